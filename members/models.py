"""The customer profile ("客户档案") and the records around it.

Phone, email and birthday are encrypted at rest (`loyalty_crm.fields`); phone and email
also carry a keyed hash for exact lookup. Workflows live in `members.services`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty_crm.fields import EncryptedDateField, EncryptedTextField
from members.summaries import Summary
from members.summaries import render as render_summary


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Store(TimeStamped):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    city = models.CharField(_("city"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})" if self.city else self.name


class Category(TimeStamped):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Product(TimeStamped):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MemberQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Member.Status.ACTIVE)

    def not_erased(self):
        return self.exclude(status=Member.Status.ERASED)

    def with_phone(self, phone: str):
        """Exact match on a phone number in any accepted format (via the lookup hash)."""
        from members.normalize import phone_hashes

        hashes = phone_hashes(phone)
        return self.filter(phone_hash__in=hashes) if hashes else self.none()

    def with_email(self, email: str):
        from members.normalize import email_hashes

        hashes = email_hashes(email)
        return self.filter(email_hash__in=hashes) if hashes else self.none()


class Member(TimeStamped):
    class Gender(models.TextChoices):
        UNKNOWN = "unknown", _("Not given")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        ERASED = "erased", _("Erased")

    class SourceChannel(models.TextChoices):
        STORE = "store", _("In store")
        ONLINE = "online", _("Online shop")
        WECHAT = "wechat", _("WeChat")
        REFERRAL = "referral", _("Referral")
        EVENT = "event", _("Event")
        IMPORT = "import", _("Import")
        API = "api", _("API")
        OTHER = "other", _("Other")
        QR_STORE = "qr_store", _("QR code in store")

    member_no = models.CharField(_("member number"), max_length=16, unique=True, editable=False)
    external_id = models.CharField(
        _("external ID"),
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text=_("The customer's id in the POS, online shop or an imported system."),
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = EncryptedDateField(_("birthday"), null=True, blank=True)
    # Month and day (never the year) stay queryable for birthday greetings and segments.
    birth_month = models.PositiveSmallIntegerField(_("birth month"), null=True, blank=True, editable=False)
    birth_day = models.PositiveSmallIntegerField(_("birth day"), null=True, blank=True, editable=False)
    phone = EncryptedTextField(_("phone"), null=True, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False, db_index=True)
    # The last four digits, for the till's "last 4 + pick" lookup: no more than every masked
    # phone shows (`138****8000`), and searchable without decrypting every profile.
    phone_last4 = models.CharField(
        _("last four digits of the phone"), max_length=4, blank=True, default="", editable=False, db_index=True
    )
    email = EncryptedTextField(_("email"), null=True, blank=True)
    email_hash = models.CharField(max_length=64, blank=True, default="", editable=False, db_index=True)
    home_store = models.ForeignKey(
        Store,
        verbose_name=_("home store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="members")
    referral_code = models.CharField(_("referral code"), max_length=12, unique=True, editable=False)
    # The member's WeChat Official Account openid (an opaque per-account id, not a contact detail):
    # bound by "sign in with WeChat" in the member centre or by staff; the WeChat channel needs it.
    wechat_openid = models.CharField(
        _("WeChat openid"), max_length=64, unique=True, null=True, blank=True, default=None
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now, db_index=True)
    source_channel = models.CharField(
        _("source channel"), max_length=10, choices=SourceChannel.choices, default=SourceChannel.STORE
    )
    notes = models.TextField(_("notes"), blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-registered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_hash"],
                condition=~Q(phone_hash=""),
                name="members_member_unique_phone",
                violation_error_message=_("Another member already has this phone number."),
            ),
        ]
        indexes = [models.Index(fields=["birth_month", "birth_day"], name="members_birthday_md")]
        permissions = [
            ("export_member", _("Can export a member's data")),
            ("erase_member", _("Can erase (anonymise) a member")),
            ("import_members", _("Can import members from CSV")),
            ("view_contact_details", _("Can see a member's contact details")),
        ]

    def __str__(self) -> str:
        return f"{self.member_no} {self.name}"

    @property
    def is_erased(self) -> bool:
        return self.status == self.Status.ERASED

    @property
    def masked_phone(self) -> str:
        from members.masking import mask_phone

        return mask_phone(self.phone)


class ContactDetailView(models.Model):
    """Append-only: one row each time contact details were shown in clear, and to whom: a member's
    (`member`), or those a customer left on a feedback ticket (`subject` names the ticket; `member`
    is set when the ticket belongs to one).

    Written by `members.services.record_contact_view` in the request that showed them; read by
    managers in the admin and included in the member's own data export.
    """

    class Channel(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("Back office")

    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="contact_detail_views",
        null=True,
        blank=True,
    )
    subject = models.CharField(_("shown on"), max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as written, so the record still says who after the user is deleted.
    username = models.CharField(_("username"), max_length=150)
    at = models.DateTimeField(_("when"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    path = models.CharField(_("path"), max_length=300, blank=True)
    client_ip = models.CharField(_("client IP"), max_length=45, blank=True)

    class Meta:
        verbose_name = _("contact detail view")
        verbose_name_plural = _("contact detail views")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["member", "-at"], name="members_contactview_member"),
            models.Index(fields=["user", "-at"], name="members_contactview_user"),
        ]

    def __str__(self) -> str:
        whose = self.subject or str(self.member)
        return f"{self.username} · {whose} · {timezone.localtime(self.at):%Y-%m-%d %H:%M}"


class ConsentTopic(models.TextChoices):
    MARKETING_EMAIL = "marketing_email", _("Marketing by email")
    MARKETING_SMS = "marketing_sms", _("Marketing by SMS")
    MARKETING_WECHAT = "marketing_wechat", _("Marketing by WeChat")
    DATA_PROCESSING = "data_processing", _("Data processing (profile and analytics)")


class ConsentSource(models.TextChoices):
    ADMIN = "admin", _("Back office")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    WEB = "web", _("Web page")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    ERASURE = "erasure", _("Erasure")
    MEMBER_CENTRE = "member_centre", _("Member centre")


class Consent(models.Model):
    """The current state of one consent of one member. Marketing reads only this table."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="consents")
    topic = models.CharField(_("purpose and channel"), max_length=20, choices=ConsentTopic.choices)
    granted = models.BooleanField(_("granted"), default=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [models.UniqueConstraint(fields=["member", "topic"], name="members_consent_one_per_topic")]
        indexes = [models.Index(fields=["topic", "granted"], name="members_consent_topic")]

    def __str__(self) -> str:
        answer = _("yes") if self.granted else _("no")
        return f"{self.get_topic_display()}: {answer}"


class ConsentEvent(models.Model):
    """Append-only history: every grant and withdrawal, when, by whom and from where."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="consent_events"
    )
    topic = models.CharField(_("purpose and channel"), max_length=20, choices=ConsentTopic.choices)
    granted = models.BooleanField(_("granted"))
    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent history")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        verb = _("granted") if self.granted else _("withdrawn")
        return f"{self.get_topic_display()} {verb}"


class SalesChannel(models.TextChoices):
    STORE = "store", _("In store")
    ONLINE = "online", _("Online shop")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone order")
    OTHER = "other", _("Other")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    STORED_VALUE = "stored_value", _("Stored value")
    OTHER = "other", _("Other")


class Purchase(models.Model):
    # Empty for a walk-in sale (a customer who is not a member): counted in the sales figures,
    # never in a member's history, points or classification.
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="purchases",
        null=True,
        blank=True,
        db_index=False,  # members_purchase_member (member, -ordered_at) serves every lookup by member
    )
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="purchases",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=SalesChannel.choices, default=SalesChannel.STORE)
    payment_method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices, blank=True)
    ordered_at = models.DateTimeField(_("ordered at"), db_index=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(_("total paid"), max_digits=12, decimal_places=2)
    # The part of the order paid with loyalty points (a tender, not a discount): subtotal =
    # discount + paid with points + total paid. `total` is money only.
    points_value = models.DecimalField(_("paid with points"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    refunded_total = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-ordered_at", "-id"]
        indexes = [models.Index(fields=["member", "-ordered_at"], name="members_purchase_member")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="members_purchase_total_gte_0"),
            models.CheckConstraint(condition=Q(points_value__gte=0), name="members_purchase_points_value_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=models.F("total")),
                name="members_purchase_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} ({self.total})"


class PurchaseItem(models.Model):
    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="purchase_items",
    )
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="purchase_items",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    line_total = models.DecimalField(_("line total"), max_digits=12, decimal_places=2)
    returned_quantity = models.PositiveIntegerField(_("returned quantity"), default=0, db_default=0)

    class Meta:
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="members_item_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="members_item_price_gte_0"),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=models.F("quantity")), name="members_item_returned_lte_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


def _require_summary(record) -> None:
    """Staff's records need their summary; a coded one may have no typed text (a survey's score)."""
    if record.summary_code == Summary.NOTE and not record.summary.strip():
        field = record._meta.get_field("summary")
        raise ValidationError({"summary": [field.error_messages["blank"]]})


class ServiceRecord(TimeStamped):
    class Kind(models.TextChoices):
        REPAIR = "repair", _("Repair")
        DELIVERY = "delivery", _("Delivery")
        CONSULTATION = "consultation", _("Consultation")
        COMPLAINT = "complaint", _("Complaint")
        CARE_CLAIM = "care_claim", _("Care plan claim")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="service_records"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_records",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="service_records",
    )
    # What the system wrote, as a code and its parameters, rendered in the reader's language
    # (`members.summaries.render`); `summary` keeps only what a person typed.
    summary_code = models.CharField(
        _("summary code"), max_length=32, choices=Summary.choices, default=Summary.NOTE, db_default=Summary.NOTE
    )
    summary_params = models.JSONField(
        _("summary parameters"), default=dict, blank=True, db_default=Value({}, output_field=models.JSONField())
    )
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    details = models.TextField(_("details"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-opened_at"], name="members_service_member"),
            # Open service requests, oldest first (the store staff's home page).
            models.Index(
                fields=["opened_at"], condition=Q(status__in=["open", "in_progress"]), name="members_service_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary_text}"

    def clean(self) -> None:
        super().clean()
        _require_summary(self)

    @property
    def summary_text(self) -> str:
        """The summary in the active language (the code's sentence with what was typed)."""
        return render_summary(self.summary_code, self.summary_params, self.summary)


class Preference(TimeStamped):
    class Kind(models.TextChoices):
        FAVOURITE_CATEGORY = "favourite_category", _("Favourite category")
        FAVOURITE_PRODUCT = "favourite_product", _("Favourite product")
        COLOUR = "colour", _("Colour")
        STYLE = "style", _("Style")
        PREFERRED_CHANNEL = "preferred_channel", _("Preferred channel")
        CONTACT_TIME = "contact_time", _("Preferred contact time")
        CUSTOM = "custom", _("Other (free-form)")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="preferences")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=50, blank=True, help_text=_("Only for free-form preferences."))
    value = models.CharField(pgettext_lazy("preference", "value"), max_length=200, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        label = self.key if self.kind == self.Kind.CUSTOM else self.get_kind_display()
        shown = self.value or self.category or self.product or ""
        return f"{label}: {shown}"


class Interaction(models.Model):
    class Kind(models.TextChoices):
        VISIT = "visit", _("Store visit")
        CALL = "call", _("Call")
        MESSAGE = "message", _("Message")
        EVENT = "event", _("Event attendance")
        CAMPAIGN_RESPONSE = "campaign_response", _("Campaign response")
        REVIEW = "review", _("Review")
        SURVEY = "survey", _("Survey completed")
        OTHER = "other", _("Other")

    class Channel(models.TextChoices):
        STORE = "store", _("In store")
        PHONE = "phone", _("Phone")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        WECHAT = "wechat", _("WeChat")
        WEB = "web", _("Web")
        OTHER = "other", _("Other")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        OUTBOUND = "outbound", _("To the customer")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, default=Direction.INBOUND)
    # What the system wrote, as a code and its parameters, rendered in the reader's language
    # (`members.summaries.render`); `summary` keeps only what a person typed.
    summary_code = models.CharField(
        _("summary code"), max_length=32, choices=Summary.choices, default=Summary.NOTE, db_default=Summary.NOTE
    )
    summary_params = models.JSONField(
        _("summary parameters"), default=dict, blank=True, db_default=Value({}, output_field=models.JSONField())
    )
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interactions",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["member", "-occurred_at"], name="members_interaction_member")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.summary_text[:40]}"

    def clean(self) -> None:
        super().clean()
        _require_summary(self)

    @property
    def summary_text(self) -> str:
        """The summary in the active language (the code's sentence with what was typed)."""
        return render_summary(self.summary_code, self.summary_params, self.summary)


class StaffProfile(models.Model):
    """Which store a staff user works in; store staff see that store's reports only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="staff_profile",
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text=_("Reports are limited to this store for users who may not see all stores."),
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        permissions = [("view_all_stores", _("Can see every store's reports"))]

    def __str__(self) -> str:
        return f"{self.user} · {self.store or '—'}"


class MemberSession(models.Model):
    """A member signed in to the member centre (`/m/`) or its API (`/api/v1/me/`).

    Not a staff session: its own table, cookie and lifetime (`members.services.sessions`,
    `loyalty_crm.centre.session`). Only the SHA-256 of the token is stored; the token itself lives
    in the member's cookie or app.
    """

    class Source(models.TextChoices):
        WEB = "web", _("Member centre")
        API = "api", _("Member API")
        WECHAT = "wechat", _("WeChat")

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="centre_sessions"
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.WEB)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"))
    expires_at = models.DateTimeField(_("expires at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member session")
        verbose_name_plural = _("member sessions")
        indexes = [models.Index(fields=["member", "ended_at"], name="members_session_member")]

    def __str__(self) -> str:
        return f"{self.member_id} · {self.created_at:%Y-%m-%d %H:%M}"


class AccountClosureRequest(models.Model):
    """A member asked, in the member centre, to close their account (the right to erasure).

    Written only by `members.services` (`request_account_closure`, `withdraw_account_closure`,
    `confirm_account_closure`, `refuse_account_closure`): staff confirm in the admin, which erases
    the member and ends their sessions, or refuse with a note. At most one request is open
    (requested) per member at a time.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        CONFIRMED = "confirmed", _("Confirmed (erased)")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn by the member")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="closure_requests"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    note = models.TextField(
        _("note to the member"), blank=True, help_text=_("Why the request was refused (shown to the member).")
    )

    class Meta:
        verbose_name = _("account closure request")
        verbose_name_plural = _("account closure requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status="requested"),
                name="members_closure_one_open_per_member",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member.member_no} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.REQUESTED


class OtpChallenge(models.Model):
    """A one-time sign-in code sent by SMS (`members.services.otp`).

    Neither the code nor the phone is stored: the code as an HMAC keyed with SECRET_KEY, the phone
    and the client address as their lookup hashes. Live for 5 minutes, at most 5 wrong tries,
    used once; a newer code for the same phone supersedes it. Pruned nightly.
    """

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign in")
        JOIN = "join", _("Join")

    phone_hash = models.CharField(pgettext_lazy("sign-in code", "phone hash"), max_length=64, editable=False)
    client_hash = models.CharField(_("client address hash"), max_length=64, blank=True, default="", editable=False)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.SIGN_IN)
    code_hash = models.CharField(pgettext_lazy("sign-in code", "code hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")
        indexes = [
            models.Index(fields=["phone_hash", "created_at"], name="members_otp_phone"),
            models.Index(fields=["client_hash", "created_at"], name="members_otp_client"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.created_at:%Y-%m-%d %H:%M}"


class TermsVersion(models.Model):
    """One published text of the terms of membership or the privacy notice (`members.services.terms`).

    A draft may be edited; once published it never changes (a correction is a new version). The
    current version of a kind is the latest published one.
    """

    class Kind(models.TextChoices):
        TERMS = "terms", _("Terms of membership")
        PRIVACY = "privacy", _("Privacy notice")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    version = models.CharField(_("version"), max_length=20, help_text=_("A label members see, e.g. 2026-12 or 3.0."))
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, db_index=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("terms version")
        verbose_name_plural = _("terms and privacy versions")
        ordering = ["kind", "-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "version"],
                name="members_terms_unique_version",
                violation_error_message=_("This kind already has a version with this label."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"

    def save(self, *args, **kwargs):
        self._refuse_if_published()  # published rows are immutable (`publish_terms_version` sets the date)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_published()
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def _refuse_if_published(self) -> None:
        if self.pk and TermsVersion.objects.filter(pk=self.pk, published_at__isnull=False).exists():
            raise ValidationError(_("A published version cannot be changed or deleted; publish a new version instead."))


class TermsAcceptance(models.Model):
    """A member accepted a terms or privacy version: when, and from where (append-only)."""

    class Source(models.TextChoices):
        WEB = "web", _("Member centre")
        API = "api", _("Member API")
        STAFF = "staff", _("Staff")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    version = models.ForeignKey(
        TermsVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="acceptances"
    )
    accepted_at = models.DateTimeField(_("accepted at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # The keyed hash of the client address (never the address itself); blank when unknown.
    client_hash = models.CharField(_("client address hash"), max_length=64, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("terms acceptance")
        verbose_name_plural = _("terms acceptances")
        ordering = ["-accepted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["member", "version"], name="members_terms_accepted_once")]

    def __str__(self) -> str:
        return f"{self.version} · {self.accepted_at:%Y-%m-%d %H:%M}"


# The seeded holiday names (members/migrations/0017_seed_holidays.py), marked for the catalogue.
SEED_HOLIDAY_NAMES = frozenset(
    {
        gettext_noop("New Year's Day"),
        gettext_noop("Spring Festival"),
        gettext_noop("Lantern Festival"),
        gettext_noop("Valentine's Day"),
        gettext_noop("Women's Day"),
        gettext_noop("Qingming Festival"),
        gettext_noop("Labour Day"),
        gettext_noop("Mother's Day"),
        gettext_noop("520 (I love you)"),
        gettext_noop("Dragon Boat Festival"),
        gettext_noop("Father's Day"),
        gettext_noop("Qixi Festival"),
        gettext_noop("Teachers' Day"),
        gettext_noop("Mid-Autumn Festival"),
        gettext_noop("National Day"),
        gettext_noop("Double Ninth Festival"),
        gettext_noop("Christmas"),
    }
)


class Holiday(TimeStamped):
    """A day in the shop's calendar (reference data, like stores): the holidays marketing greets
    (with their lead days) and the public holidays a support team's business hours skip.

    The date rule is one of: a fixed Gregorian month/day (520, 3·8, Christmas), a lunar month/day
    (春节, 元宵, 七夕, 中秋), or the n-th weekday of a month (Mother's Day: the 2nd Sunday of May).
    `members.holidays` turns a rule into the dates of a year."""

    class Rule(models.TextChoices):
        FIXED = "fixed", _("Fixed date")
        LUNAR = "lunar", _("Lunar date")
        NTH_WEEKDAY = "nth_weekday", _("Weekday of a month")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    rule = models.CharField(_("date rule"), max_length=12, choices=Rule.choices, default=Rule.FIXED)
    month = models.PositiveSmallIntegerField(
        pgettext_lazy("date of the year", "month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(
        pgettext_lazy("date of the year", "day"), validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text=_("Day of the month (Gregorian or lunar); for a weekday rule, which week (1–5)."),
    )  # fmt: skip
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(6)],
        help_text=_("For a weekday rule only: 0 = Monday … 6 = Sunday."),
    )  # fmt: skip
    lead_days = models.PositiveSmallIntegerField(
        _("lead days"), default=7, validators=[MaxValueValidator(60)],
        help_text=_("How many days before the holiday its greeting goes out."),
    )  # fmt: skip
    days_off = models.PositiveSmallIntegerField(
        _("days off"), default=0, validators=[MaxValueValidator(10)],
        help_text=_("Public holiday: how many days from this date support teams do not work (0 = a working day)."),
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["month", "day", "code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(rule="nth_weekday") | (models.Q(weekday__isnull=False) & models.Q(day__lte=5)),
                name="holiday_weekday_rule_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self):
        super().clean()
        from members import holidays

        if self.rule == self.Rule.NTH_WEEKDAY and (self.weekday is None or not 1 <= (self.day or 0) <= 5):
            raise ValidationError({"weekday": _("A weekday rule needs a weekday and a week from 1 to 5 (in “day”).")})
        if self.rule != self.Rule.NTH_WEEKDAY and self.weekday is not None:
            raise ValidationError({"weekday": _("Only a weekday rule has a weekday.")})
        if self.rule == self.Rule.LUNAR and (self.day or 0) > 30:
            raise ValidationError({"day": _("A lunar month has at most 30 days.")})
        if self.month and self.day:
            try:
                holidays.date_in_year(rule=self.rule, month=self.month, day=self.day, weekday=self.weekday, year=2028)
            except ValueError:
                raise ValidationError({"day": _("This month has no such day.")}) from None

    @property
    def rule_text(self) -> str:
        """The date rule in words: "5/20", "lunar 8/15", "2nd Sunday of May"."""
        if self.rule == self.Rule.LUNAR:
            return gettext("lunar %(month)d/%(day)d") % {"month": self.month, "day": self.day}
        if self.rule == self.Rule.NTH_WEEKDAY and self.weekday is not None:
            from django.utils.dates import MONTHS, WEEKDAYS

            return gettext("week %(week)d, %(weekday)s of %(month)s") % {
                "week": self.day, "weekday": WEEKDAYS[self.weekday], "month": MONTHS[self.month]
            }  # fmt: skip
        return f"{self.month}/{self.day}"

    @property
    def display_name(self) -> str:
        """The seeded names are stored in English and translated when shown; a renamed or added
        holiday shows as typed."""
        return gettext(self.name) if self.name in SEED_HOLIDAY_NAMES else self.name


class ProductRecommendation(models.Model):
    """One of a member's top products they have not bought, by item-to-item co-purchase over the
    last 12 months. The whole table is rewritten nightly in one set-based statement
    (`members.services.recommendations.refresh_recommendations`); nothing else writes it."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="recommendations"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="recommended_to"
    )
    rank = models.PositiveSmallIntegerField(pgettext_lazy("recommendation", "rank"))
    score = models.FloatField(pgettext_lazy("recommendation", "score"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("product recommendation")
        verbose_name_plural = _("product recommendations")
        ordering = ["member_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["member", "rank"], name="members_recommendation_member_rank"),
            models.UniqueConstraint(fields=["member", "product"], name="members_recommendation_member_product"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} #{self.rank}: {self.product_id}"


class ImportantDate(TimeStamped):
    """A date in a member's life the shop may greet (anniversary, a partner's birthday, a custom
    one), written only by `members.services.dates`.

    As for the birthday, the month and day stay in clear (segments and the "days before a date"
    automation find them with one indexed query) while the rest is sealed: the year (with the day
    it is a date of birth or of a marriage) and the free-text label (it often names a person) are
    encrypted at rest. Dates are used for greetings only while the member's data-processing consent
    is granted; the greeting itself needs marketing consent on its channel like any message."""

    class Kind(models.TextChoices):
        ANNIVERSARY = "anniversary", _("Anniversary")
        PARTNER_BIRTHDAY = "partner_birthday", _("Partner's birthday")
        CUSTOM = "custom", _("Other date")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="important_dates"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    label = EncryptedTextField(_("label"), blank=True, default="", help_text=_("What the date is, for other dates."))
    month = models.PositiveSmallIntegerField(
        pgettext_lazy("date of the year", "month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(
        pgettext_lazy("date of the year", "day"), validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    year = EncryptedTextField(_("year"), blank=True, default="", help_text=_("Optional."))

    class Meta:
        verbose_name = _("important date")
        verbose_name_plural = _("important dates")
        ordering = ["month", "day", "id"]
        indexes = [models.Index(fields=["month", "day"], name="members_importantdate_md")]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12, day__gte=1, day__lte=31), name="members_importantdate_md_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_label} {self.month}/{self.day}"

    @property
    def display_label(self) -> str:
        return self.label if self.kind == self.Kind.CUSTOM and self.label else str(self.get_kind_display())


class PurchaseSummary(models.Model):
    """When a member last bought a product in a category: one row per member, category and product
    of their counted lines (some quantity not returned, on a purchase not fully refunded), with the
    latest `ordered_at` of those lines. What the segment keys on purchases read at 1M members
    (campaigns/segments.py, docs/benchmarks.md "Segment keys").

    On PostgreSQL the database keeps it exact in the statement that changes a purchase or a line
    (triggers of migration 0023: a posting's line insert upserts its rows; a refund, a return, a
    walk-in purchase given to a member or a deletion recomputes the members concerned), so the
    posting runs no statement of its own for it. `members.services.rebuild_purchase_summary`
    rewrites it from the purchases (after a restore that skipped triggers). Elsewhere (SQLite) it
    stays empty and the segments read the purchase lines.

    Derived rows, so no foreign-key constraints: a bulk import's new rows cost no deferred check
    at commit (Django still cascades a deleted member, category or product to them)."""

    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    last_ordered_at = models.DateTimeField(_("last bought at"))

    class Meta:
        verbose_name = _("purchase summary")
        verbose_name_plural = _("purchase summaries")
        ordering = ["member_id", "id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.category_id}/{self.product_id} {self.last_ordered_at:%Y-%m-%d}"
