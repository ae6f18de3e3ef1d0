"""Project-wide test setup: fast hashing, service markers, role users and API clients.

Markers `postgres`, `redis` and `browser` skip a test whose service is missing, with the reason;
with `CI=true` a missing service fails the test instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

# The fake provider servers (tests/fakes/fixtures.py): aliyun_sms, tencent_sms, fake_*.
pytest_plugins = ["tests.fakes.fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def missing_service(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def redis_available() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing_service("this test needs PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("redis") and not redis_available():
        missing_service("this test needs Redis (set REDIS_URL=redis://127.0.0.1:6379/0)")
    if request.node.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        missing_service(f"this test needs Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request in Chinese through the test client
    leaves LocaleMiddleware's choice active on the thread, which would leak into the next test."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache. Redis keeps the cache across tests and runs: cached
    settings (the expiry and tier policies, the earning and points-payment configuration) of an
    earlier test's database, or a bad-token count, would otherwise leak into the next test and make
    its answers and query counts depend on what ran before."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"


def ensure_roles() -> None:
    """Recreate the role groups if a transactional test flushed them (they come from data migrations).

    Runs the `*_roles` data migrations' RunPython steps again (they are idempotent).
    """
    if Group.objects.filter(name__in=ROLES).count() == len(ROLES):
        return
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations import RunPython

    loader = MigrationExecutor(connection).loader
    state_apps = loader.project_state().apps
    for (_app, name), migration in sorted(loader.disk_migrations.items()):
        if "roles" in name:  # e.g. 0016_member_events_roles_and_automations too
            for operation in migration.operations:
                if isinstance(operation, RunPython):
                    operation.code(state_apps, None)


SEED_MIGRATIONS = (
    ("members", "0017_seed_holidays"),
    ("campaigns", "0004_automations_seed"),
    ("campaigns", "0015_automations_on_the_holiday_calendar"),
)


def ensure_seeded_automations() -> None:
    """Recreate the holiday calendar and the automations (off, as a new shop has them) if a
    transactional test flushed them: they come from data migrations, whose RunPython steps are
    run again (each is idempotent). A test that seeds the demo after a flush needs them, as a real
    shop always has them."""
    from campaigns.models import Automation

    if Automation.objects.filter(kind__in=["birthday", "important_date"]).count() == 2:
        return
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations import RunPython

    loader = MigrationExecutor(connection).loader
    state_apps = loader.project_state().apps
    for key in SEED_MIGRATIONS:
        for operation in loader.disk_migrations[key].operations:
            if isinstance(operation, RunPython):
                operation.code(state_apps, None)


def make_user(username: str, role: str | None = None, **extra) -> User:
    ensure_roles()
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=True, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def manager(db):
    return make_user("manager", MANAGER)


@pytest.fixture
def store_staff(db):
    return make_user("staff", STORE_STAFF)


@pytest.fixture
def marketing(db):
    return make_user("marketer", MARKETING)


@pytest.fixture
def support(db):
    return make_user("support", SUPPORT)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-root")


def token_client(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_manager(manager):
    return token_client(manager)


@pytest.fixture
def api_staff(store_staff):
    return token_client(store_staff)


@pytest.fixture
def api_marketing(marketing):
    return token_client(marketing)


@pytest.fixture
def api_support(support):
    return token_client(support)


@pytest.fixture
def api_anon():
    return APIClient()


@pytest.fixture
def wsgi_keeps_the_test_transaction():
    """For tests that call the project's WSGI application itself (the OpenAPI fuzzer): Django's
    handler closes the database connection after each request, which would end the test's
    transaction on PostgreSQL; the test client keeps it open the same way. (The test client
    reconnects the handler after each of its own requests: set data up with services, not the
    test client, in such a test.)"""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
