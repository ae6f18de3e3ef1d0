"""Settings for the loyalty CRM, read from the environment.

With no environment at all the project runs in development mode: SQLite, an embedded
(filesystem) Celery broker, a local-memory cache and a development encryption key.
With ``DJANGO_DEBUG=0`` it refuses to start without ``DJANGO_SECRET_KEY`` and
``FIELD_ENCRYPTION_KEY`` and switches on every production safeguard that
``manage.py check --deploy`` looks for. docs/operations/settings.md lists every variable.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("LOYALTY_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# Only ever used in development mode; production refuses to start without its own key.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-7f3a9c2e41b8d605"  # noqa: S105 (development only; refused in production)
# A fixed development key so `make run` data survives restarts. Never valid in production.
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="

# Production refuses a DJANGO_SECRET_KEY shorter than this, of fewer distinct characters, or
# containing a placeholder word (what Django's own `check --deploy` W009 looks for, and more).
# Words are 5+ characters (and "xxxxx") so a random key almost never contains one by chance.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT_CHARACTERS = 5
SECRET_KEY_PLACEHOLDERS = (
    "change-me", "changeme", "change_me", "replace-me", "replaceme", "secret", "django-insecure",
    "insecure", "example", "xxxxx", "dev-key", "dev-only", "devkey", "password", "dummy", "sample",
    "placeholder", "your-", "test-key", "not-for-prod", "do-not-use",
)  # fmt: skip


def secret_key_weakness(key: str) -> str:
    """Why `key` must not sign production sessions and links; "" when it may."""
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, at least {SECRET_KEY_MIN_LENGTH} are needed"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT_CHARACTERS:
        return f"it has fewer than {SECRET_KEY_MIN_DISTINCT_CHARACTERS} different characters"
    lowered = key.lower()
    for word in SECRET_KEY_PLACEHOLDERS:
        if word in lowered:
            return f"it contains the placeholder {word!r}"
    return ""


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not DEBUG:
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", SECRET_KEY),
            ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            "Production mode (DJANGO_DEBUG=0) needs these environment variables: " + ", ".join(missing)
        )
    weak_secret_key = secret_key_weakness(SECRET_KEY)
    if weak_secret_key:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak for production: {weak_secret_key}. Generate one with "
            '`python -c "import secrets; print(secrets.token_hex(40))"`.'
        )
    if FIELD_ENCRYPTION_KEY.split(",")[0].strip() == DEV_FIELD_ENCRYPTION_KEY:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is the public development key; generate one with "
            "`python manage.py generate_encryption_key`."
        )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or DEV_FIELD_ENCRYPTION_KEY

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "loyalty_crm.apps.LoyaltyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "loyalty_crm.apps.LockoutConfig",  # django-axes
    "loyalty_crm.apps.LoyaltyCrmConfig",
    "members",
    "rewards",
    "campaigns",
    "feedback",
    "demo",  # development only: seed_demo (the top layer; no app imports it)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL character in a path, query, cookie, header or form: 400 (loyalty_crm.middleware).
    "loyalty_crm.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "loyalty_crm.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "loyalty_crm.centre.context.centre",
            ],
        },
    },
]

WSGI_APPLICATION = "loyalty_crm.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections in production (a new PostgreSQL backend per request halves the postings a
# server takes, docs/operations/settings.md), checked before reuse so a dropped one is replaced.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0 if DEBUG else 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("DJANGO_CONN_HEALTH_CHECKS", default=True))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 prepared statements: server-side binding lets psycopg prepare a statement once it
    # has run `prepare_threshold` times on a connection, so the posting's statements are planned
    # once per connection, not per request (planning was most of their PostgreSQL CPU). Behind a
    # pooler in transaction mode this needs PgBouncer >= 1.21 with max_prepared_statements set.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "server_side_binding", env.bool("DJANGO_DB_SERVER_SIDE_BINDING", default=True)
    )
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", env.int("DJANGO_DB_PREPARE_THRESHOLD", default=2))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server, the Celery worker and beat share the file without lock errors.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)

# A read replica for reports and analytics (loyalty_crm.db_routing): the reads inside
# `replica_reads()` go to it; every write, and every other read, to `default`.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES["replica"].setdefault("CONN_HEALTH_CHECKS", DATABASES["default"]["CONN_HEALTH_CHECKS"])
    DATABASES["replica"].setdefault("OPTIONS", dict(DATABASES["default"].get("OPTIONS", {})))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["loyalty_crm.db_routing.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, with one client per pool (loyalty_crm.cache says why).
            "BACKEND": "loyalty_crm.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "loyalty",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in lockout (django-axes; the rules in loyalty_crm/login_lockout.py, README "Sign-in lockout").
# The axes backend comes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)  # per username
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=20)  # per client address
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "loyalty_crm.login_lockout.LockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "loyalty_crm.login_lockout.client_address"
AXES_LOCKOUT_CALLABLE = "loyalty_crm.login_lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no start-up banner on every manage.py command
# The sign-in log (every admin sign-in and failure) is pruned nightly to this many days.
SIGNIN_LOG_RETENTION_DAYS = env.int("SIGNIN_LOG_RETENTION_DAYS", default=90)
# API tokens: bad `Authorization: Token` attempts allowed per client address within a window
# (seconds) before that address gets 429 for them (loyalty_crm/api/authentication.py).
API_BAD_TOKEN_RATE = (
    env.int("API_BAD_TOKEN_MAX_ATTEMPTS", default=10),
    env.int("API_BAD_TOKEN_WINDOW_SECONDS", default=600),
)

# Languages: Simplified Chinese for Chinese browsers, English otherwise.
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
CURRENCY = "CNY"
# Phone numbers without a country code are read as numbers of this region.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="CN")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Uploaded files live outside the web root and are served only through permission checks.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Largest upload accepted in one request (the admin member import included).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# API request bodies: JSON nested deeper than this many arrays/objects is refused with 400.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
# The public feedback form: submissions allowed per client IP within a window of seconds.
FEEDBACK_FORM_RATE = (
    env.int("FEEDBACK_FORM_MAX_POSTS", default=5),
    env.int("FEEDBACK_FORM_WINDOW_SECONDS", default=600),
)
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed; empty = use REMOTE_ADDR only.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Feedback: absolute address for links in emails, survey link lifetime, "about to breach" window,
# and the language of staff notifications.
FEEDBACK_SURVEY_MAX_AGE_DAYS = env.int("FEEDBACK_SURVEY_MAX_AGE_DAYS", default=14)
FEEDBACK_SLA_WARNING_FRACTION = env.float("FEEDBACK_SLA_WARNING_FRACTION", default=0.25)
FEEDBACK_SLA_WARNING_MAX_SECONDS = env.int("FEEDBACK_SLA_WARNING_MAX_SECONDS", default=3600)
FEEDBACK_STAFF_LANGUAGE = env.str("FEEDBACK_STAFF_LANGUAGE", default="zh-hans")
# Customers' photos: the largest accepted (pixels, from the header) and the longer side they are
# scaled down to before storing (feedback/images.py).
FEEDBACK_PHOTO_MAX_PIXELS = env.int("FEEDBACK_PHOTO_MAX_PIXELS", default=24_000_000)
FEEDBACK_PHOTO_MAX_EDGE = env.int("FEEDBACK_PHOTO_MAX_EDGE", default=2048)
MEMBER_IMPORT_MAX_BYTES = env.int("MEMBER_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
# Paid membership: the daily task sends `rewards.signals.membership_renewal_due` this many days
# (or fewer) before a membership ends, once per membership.
MEMBERSHIP_RENEWAL_REMINDER_DAYS = env.int("MEMBERSHIP_RENEWAL_REMINDER_DAYS", default=30)

# Campaign dispatch (docs/rules/sending.md).
# The public address of this site, for links in messages (unsubscribe).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Feedback's emailed links use the same address unless told otherwise.
FEEDBACK_PUBLIC_URL = env.str("FEEDBACK_PUBLIC_URL", default=SITE_URL)
# Replies to tickets by SMS or WeChat (feedback/delivery.py): the provider-approved service templates
# (SMS variables `ticket` and `link`, e.g. "您的服务单${ticket}有新回复，请点击${link}查看" — Tencent:
# {1} ticket, {2} link; WeChat fields `ticket` and `time`, the link as the message's page; empty:
# no WeChat replies) and how long the ticket page link stays valid.
SMS_SERVICE_TEMPLATE_CODE = env.str("SMS_SERVICE_TEMPLATE_CODE", default="SMS_SERVICE_REPLY")
WECHAT_SERVICE_TEMPLATE_ID = env.str("WECHAT_SERVICE_TEMPLATE_ID", default="")
FEEDBACK_TICKET_LINK_MAX_AGE_DAYS = env.int("FEEDBACK_TICKET_LINK_MAX_AGE_DAYS", default=30)
# SMS (docs/rules/sending.md "Channels and providers"). SMS_PROVIDER is `log` (messages stored in
# the SMS log, development), `aliyun` or `tencent`, or a dotted path to a provider class (tests).
# Production mode refuses to start without it, so that a shop never "sends" into the log unaware;
# `SMS_PROVIDER=log` set explicitly is allowed, and `check --deploy` then warns (campaigns.W050).
_SMS_PROVIDER_SET = env.str("SMS_PROVIDER", default="").strip()
SMS_PROVIDER = _SMS_PROVIDER_SET or "log"
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
# SMS sent in one provider call (Aliyun SendBatchSms, Tencent SendSms with several numbers): the
# dispatcher's SMS blocks are this large, capped by the provider (Aliyun 100, Tencent 200); 1 = one
# message per call. docs/rules/sending.md "Batch sends".
SMS_BATCH_SIZE = env.int("SMS_BATCH_SIZE", default=100)
# Aliyun SMS (dysmsapi, SendSms; the SDK signs ACS3-HMAC-SHA256). Protocol `http` is for tests.
ALIYUN_SMS_ACCESS_KEY_ID = env.str("ALIYUN_SMS_ACCESS_KEY_ID", default="")
ALIYUN_SMS_ACCESS_KEY_SECRET = env.str("ALIYUN_SMS_ACCESS_KEY_SECRET", default="")
ALIYUN_SMS_SIGN_NAME = env.str("ALIYUN_SMS_SIGN_NAME", default="")
ALIYUN_SMS_ENDPOINT = env.str("ALIYUN_SMS_ENDPOINT", default="dysmsapi.aliyuncs.com")
ALIYUN_SMS_PROTOCOL = env.str("ALIYUN_SMS_PROTOCOL", default="https")
# Tencent Cloud SMS (sms v20210111 SendSms, TC3-HMAC-SHA256). Protocol `http` is for tests.
TENCENT_SMS_SECRET_ID = env.str("TENCENT_SMS_SECRET_ID", default="")
TENCENT_SMS_SECRET_KEY = env.str("TENCENT_SMS_SECRET_KEY", default="")
TENCENT_SMS_SDK_APP_ID = env.str("TENCENT_SMS_SDK_APP_ID", default="")
TENCENT_SMS_SIGN_NAME = env.str("TENCENT_SMS_SIGN_NAME", default="")
TENCENT_SMS_REGION = env.str("TENCENT_SMS_REGION", default="ap-guangzhou")
TENCENT_SMS_ENDPOINT = env.str("TENCENT_SMS_ENDPOINT", default="sms.tencentcloudapi.com")
TENCENT_SMS_PROTOCOL = env.str("TENCENT_SMS_PROTOCOL", default="https")
# Delivery receipts (/hooks/sms/aliyun/, /hooks/sms/tencent/): neither provider signs its pushes,
# so the callback URL configured in the provider's console carries ?token=<SMS_RECEIPT_TOKEN>;
# empty: the hooks answer 403 to everyone. Optionally also an allow-list of the provider's
# addresses (IPs or CIDRs; empty: any address). Reports older than the window are ignored.
SMS_RECEIPT_TOKEN = env.str("SMS_RECEIPT_TOKEN", default="")
SMS_RECEIPT_ALLOWED_IPS = env.list("SMS_RECEIPT_ALLOWED_IPS", default=[])
SMS_RECEIPT_MAX_AGE_HOURS = env.int("SMS_RECEIPT_MAX_AGE_HOURS", default=72)
SMS_RECEIPT_MAX_BYTES = env.int("SMS_RECEIPT_MAX_BYTES", default=1024 * 1024)
SMS_PROVIDER_KEYS = {
    "aliyun": ("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET", "ALIYUN_SMS_SIGN_NAME"),
    "tencent": ("TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID", "TENCENT_SMS_SIGN_NAME"),
}
if not DEBUG:
    if not _SMS_PROVIDER_SET:
        raise ImproperlyConfigured(
            "Production mode (DJANGO_DEBUG=0) needs SMS_PROVIDER: `aliyun` or `tencent` with their keys, "
            "or `log` to keep text messages in the SMS log only (nothing reaches a phone)."
        )
    _missing_sms_keys = [name for name in SMS_PROVIDER_KEYS.get(SMS_PROVIDER, ()) if not globals()[name]]
    if _missing_sms_keys:
        raise ImproperlyConfigured(
            f"SMS_PROVIDER={SMS_PROVIDER} needs these environment variables: " + ", ".join(_missing_sms_keys)
        )
# The provider's approved template for sign-in codes (one variable, `code`); not marketing.
SMS_OTP_TEMPLATE_CODE = env.str("SMS_OTP_TEMPLATE_CODE", default="SMS_OTP")
# How long a worker holds the outbox messages it claimed; a send still "sending" after its lease
# expires is reported in doubt and never re-sent. Longer than one batch of sends takes.
CAMPAIGN_LEASE_SECONDS = env.int("CAMPAIGN_LEASE_SECONDS", default=300)
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=100)
# Threads a dispatch batch sends through at once (the provider's network wait overlaps); 1 = in turn.
# Also the largest dispatch block (prepared in one transaction, recorded in another).
CAMPAIGN_SEND_THREADS = env.int("CAMPAIGN_SEND_THREADS", default=32)
# Dispatch batches enqueued at once (at most this many workers send one campaign side by side).
CAMPAIGN_DISPATCH_PARALLELISM = env.int("CAMPAIGN_DISPATCH_PARALLELISM", default=4)
# What one point costs the business (CNY), for campaign results: cost = bonus points × this + coupon value used.
CAMPAIGN_POINT_VALUE = env.str("CAMPAIGN_POINT_VALUE", default="0.01")
# Tries in all for a message the provider refuses with a temporary error (throttled, busy); the
# retries wait 1, 5, 25 … minutes. Then the message is failed.
CAMPAIGN_MAX_SEND_ATTEMPTS = env.int("CAMPAIGN_MAX_SEND_ATTEMPTS", default=4)
# What one SMS segment costs (CNY), for the launch page's cost estimate.
SMS_PRICE_PER_SEGMENT = env.str("SMS_PRICE_PER_SEGMENT", default="0.045")
# The longest subject or body a campaign message may render to (campaigns/templating.py).
CAMPAIGN_MESSAGE_MAX_CHARS = env.int("CAMPAIGN_MESSAGE_MAX_CHARS", default=10_000)

LOGIN_URL = "admin:login"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.filebased.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="loyalty@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

# REST framework
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "loyalty_crm.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty_crm.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # DRF's three, refusing NUL characters and JSON nested deeper than API_JSON_MAX_DEPTH.
    "DEFAULT_PARSER_CLASSES": [
        "loyalty_crm.api.parsers.JSONParser",
        "loyalty_crm.api.parsers.FormParser",
        "loyalty_crm.api.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "loyalty_crm.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "loyalty_crm.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "loyalty_crm.api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty CRM API",
    "DESCRIPTION": "Members, purchases, points, rewards, feedback and campaigns. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names ("kind", "status", "channel") other apps use too; the inline
    # sales-channel enum of rewards' inputs (purchase posting, points preview) keeps one name.
    "ENUM_NAME_OVERRIDES": {
        "PurchaseInputChannelEnum": ["store", "online", "wechat", "phone", "other"],
        "RewardKindEnum": "rewards.models.RewardKind",
        "CouponKindEnum": "rewards.models.CouponKind",
        "CouponStatusEnum": "rewards.models.Coupon.Status",
        "CouponSourceEnum": "rewards.models.Coupon.Source",
        "RedemptionStatusEnum": "rewards.models.Redemption.Status",
        "CampaignChannelEnum": "campaigns.models.CampaignChannel",
        "CampaignOfferKindEnum": "campaigns.models.CampaignOffer.Kind",
        "PaymentMethodEnum": "members.models.PaymentMethod",
        "TopUpPaymentMethodEnum": "rewards.services.stored_value.TOP_UP_PAYMENT_CHOICES",
        "EventKindEnum": "campaigns.models.Event.Kind",
        "EventStatusEnum": "campaigns.models.Event.Status",
        "EventRegistrationStatusEnum": "campaigns.models.EventRegistration.Status",
        "ClassificationEnum": "campaigns.models.Classification",
        "TicketKindEnum": "feedback.models.Ticket.Kind",
        "TicketChannelEnum": "feedback.models.Ticket.Channel",
        "ImportantDateKindEnum": "members.models.ImportantDate.Kind",
    },
}

# Celery: Redis or RabbitMQ in production; an embedded filesystem broker needing no server otherwise.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Production safeguards (checked by `manage.py check --deploy`).
# DJANGO_TLS_AT_PROXY=1 declares that the TLS proxy in front redirects plain HTTP to HTTPS and sends
# the HSTS header itself (README "TLS at the proxy"): Django's own redirect and HSTS are then off by
# default, and the two deploy checks that report exactly those (W008, W004) are silenced — only
# while they are off, and only in this mode. Without it, switching either off still warns.
TLS_AT_PROXY = env.bool("DJANGO_TLS_AT_PROXY", default=False)
SILENCED_SYSTEM_CHECKS: list[str] = []
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not TLS_AT_PROXY)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if TLS_AT_PROXY else 31536000)
    if TLS_AT_PROXY:
        if not SECURE_SSL_REDIRECT:
            SILENCED_SYSTEM_CHECKS.append("security.W008")
        if not SECURE_HSTS_SECONDS:
            SILENCED_SYSTEM_CHECKS.append("security.W004")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Every handler redacts phone numbers, emails and the values of ?phone=, ?email=, ?search=, ?q=
# (loyalty_crm.logredact); django.server is the request log of runserver (`make run`), redacted
# too. gunicorn's access log is redacted by gunicorn.conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "loyalty_crm.logredact.RedactFilter"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own "django" handlers (console when DEBUG, mail_admins) do not redact: the
        # records go up to the root's console instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# The member centre (/m/ and /api/v1/me/, loyalty_crm.centre): its own session cookie and lifetime.
MEMBER_SESSION_COOKIE_NAME = env.str("MEMBER_SESSION_COOKIE_NAME", default="crm_member")
# A member is signed out after this long without a request (a week: the card is shown at the till
# without signing in each visit)…
MEMBER_SESSION_IDLE_SECONDS = env.int("MEMBER_SESSION_IDLE_SECONDS", default=7 * 24 * 3600)
# …and after this long at the latest.
MEMBER_SESSION_MAX_AGE_SECONDS = env.int("MEMBER_SESSION_MAX_AGE_SECONDS", default=30 * 24 * 3600)

# --- WeChat Official Account (issue 14; campaigns.channels.wechat, docs/rules/wechat.md) ---------
# `log` stores template messages in the WeChat log (admin) for development; `wechat` sends them
# through WeChat's API with the account below.
WECHAT_PROVIDER = env.str("WECHAT_PROVIDER", default="log")
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
# The token typed into the account's server configuration (服务器配置): signs WeChat's callbacks.
WECHAT_TOKEN = env.str("WECHAT_TOKEN", default="")
# Set for the safe mode (安全模式): callbacks arrive AES-encrypted; empty means plain mode.
WECHAT_ENCODING_AES_KEY = env.str("WECHAT_ENCODING_AES_KEY", default="")
# WeChat's endpoints; tests and the checks point them at the fake server (tests/fakes/wechat.py).
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com/cgi-bin/")
WECHAT_SNS_BASE_URL = env.str("WECHAT_SNS_BASE_URL", default="https://api.weixin.qq.com/")
WECHAT_OAUTH_BASE_URL = env.str("WECHAT_OAUTH_BASE_URL", default="https://open.weixin.qq.com/connect/")
# Seconds to wait for WeChat's answer; a send that times out is reported in doubt, never re-sent.
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)
# A callback older (or newer) than this is refused as a possible replay.
WECHAT_CALLBACK_MAX_AGE_SECONDS = env.int("WECHAT_CALLBACK_MAX_AGE_SECONDS", default=300)
if WECHAT_PROVIDER not in {"log", "wechat"}:
    raise ImproperlyConfigured(f"WECHAT_PROVIDER must be 'log' or 'wechat', not {WECHAT_PROVIDER!r}.")
if not DEBUG and WECHAT_PROVIDER == "wechat":
    _wechat_missing = [
        name
        for name, value in (
            ("WECHAT_APP_ID", WECHAT_APP_ID),
            ("WECHAT_APP_SECRET", WECHAT_APP_SECRET),
            ("WECHAT_TOKEN", WECHAT_TOKEN),
        )
        if not value
    ]
    if _wechat_missing:
        raise ImproperlyConfigured(
            "WECHAT_PROVIDER=wechat needs these environment variables: " + ", ".join(_wechat_missing)
        )
# Sign-in codes (members.services.otp): how long a code is valid, wrong tries before it dies, and
# codes per phone and per client address per hour (plus at most one a minute per phone).
OTP_VALID_SECONDS = env.int("OTP_VALID_SECONDS", default=300)
OTP_MAX_FAILED_ATTEMPTS = env.int("OTP_MAX_FAILED_ATTEMPTS", default=5)
OTP_PHONE_HOURLY_LIMIT = env.int("OTP_PHONE_HOURLY_LIMIT", default=10)
OTP_ADDRESS_HOURLY_LIMIT = env.int("OTP_ADDRESS_HOURLY_LIMIT", default=20)
# Wrong gift codes a member may try per clock hour in the member centre (loyalty_crm/centre/limits.py).
GIFT_CLAIM_HOURLY_FAILURES = env.int("GIFT_CLAIM_HOURLY_FAILURES", default=5)
# Requests per client address to the open member API (code, session, join): DRF's rate syntax.
MEMBER_SIGN_IN_THROTTLE_RATE = env.str("MEMBER_SIGN_IN_THROTTLE_RATE", default="60/hour")
