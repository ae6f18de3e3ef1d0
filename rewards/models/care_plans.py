"""Care plans (the seeds' DJI Care example, "鲜花养护计划"): protection or extended-service plans
sold with a product, and the claims made under them.

Written only by `rewards.services.care_plans` (sell, claim, resolve, reject, remind).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Category, Member, Product, Purchase, PurchaseItem, ServiceRecord, TimeStamped
from rewards.models.catalogue import Coupon, CouponTemplate


class CarePlan(TimeStamped):
    """A plan on sale: what it covers, which products (or categories) it may be sold with, its price,
    how long it runs, how many claims it allows and whether a claim needs the original purchase."""

    class DurationUnit(models.TextChoices):
        DAYS = "days", _("days")
        MONTHS = "months", _("months")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    coverage = models.TextField(_("what it covers"), help_text=_("Shown to staff and to the member."))
    products = models.ManyToManyField(
        Product, verbose_name=_("products"), blank=True, related_name="care_plans",
        help_text=_("Products the plan may be sold with."),
    )  # fmt: skip
    categories = models.ManyToManyField(
        Category, verbose_name=_("categories"), blank=True, related_name="care_plans",
        help_text=_("Categories the plan may be sold with (their subcategories too)."),
    )  # fmt: skip
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    duration = models.PositiveSmallIntegerField(_("duration"), default=7, validators=[MinValueValidator(1)])
    duration_unit = models.CharField(
        _("duration unit"), max_length=6, choices=DurationUnit.choices, default=DurationUnit.DAYS
    )
    claims_allowed = models.PositiveSmallIntegerField(_("claims allowed"), default=1, validators=[MinValueValidator(1)])
    requires_original_purchase = models.BooleanField(
        _("claims need the original purchase"),
        default=True,
        help_text=_("A claim is refused once the covered purchase line has been returned."),
    )
    sell_within_days = models.PositiveSmallIntegerField(
        _("may be sold up to (days after the purchase)"),
        default=0,
        help_text=_("0: only on the day of the purchase."),
    )
    replacement_coupon = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("replacement coupon"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Optional. A claim may be settled with a coupon of this template."),
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")
        ordering = ["name", "id"]
        permissions = [("view_care_plan_report", _("Can view the care plan report"))]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="rewards_careplan_price_gte_0"),
            models.CheckConstraint(condition=Q(duration__gte=1), name="rewards_careplan_duration_gte_1"),
            models.CheckConstraint(condition=Q(claims_allowed__gte=1), name="rewards_careplan_claims_gte_1"),
        ]

    def __str__(self) -> str:
        return self.name


class CarePlanSale(models.Model):
    """One care plan sold to a member for one purchase line, covering from `starts_on` to `ends_on`
    (both included). `claims_used` changes only under this row's lock (`claim_care_plan`).
    A manager may cancel it before any claim (`cancel_care_plan_sale`): its price is then recorded
    as refunded and it covers nothing more."""

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("care plan sold", "Active")
        CANCELLED = "cancelled", pgettext_lazy("care plan sold", "Cancelled")

    plan = models.ForeignKey(CarePlan, verbose_name=_("care plan"), on_delete=models.PROTECT, related_name="sales")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="care_plans")
    purchase_item = models.ForeignKey(
        PurchaseItem, verbose_name=_("purchase line"), on_delete=models.PROTECT, related_name="care_plans"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    price_paid = models.DecimalField(_("price paid"), max_digits=12, decimal_places=2)
    claims_allowed = models.PositiveSmallIntegerField(_("claims allowed"))
    claims_used = models.PositiveSmallIntegerField(_("claims used"), default=0)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("care plan", "sold by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(pgettext_lazy("care plan", "sold at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    refunded_amount = models.DecimalField(
        _("refunded amount"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    cancelled_at = models.DateTimeField(pgettext_lazy("care plan", "cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("care plan", "cancelled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("care plan sold")
        verbose_name_plural = _("care plans sold")
        ordering = ["-created_at", "-id"]
        permissions = [("cancel_careplansale", _("Can cancel and refund a care plan sold"))]
        indexes = [
            models.Index(fields=["member", "ends_on"], name="rewards_careplansale_member"),
            models.Index(fields=["ends_on"], name="rewards_careplansale_ends"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="rewards_careplansale_dates"),
            models.CheckConstraint(condition=Q(price_paid__gte=0), name="rewards_careplansale_price_gte_0"),
            models.CheckConstraint(
                condition=Q(claims_used__lte=models.F("claims_allowed")), name="rewards_careplansale_claims_within"
            ),
            # A line carries a plan once while it runs: a cancelled (refunded) sale does not block a new one.
            models.UniqueConstraint(
                fields=["plan", "purchase_item"],
                condition=Q(status="active"),
                name="rewards_careplansale_once_per_line",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=models.F("price_paid")),
                name="rewards_careplansale_refund_within_price",
            ),
            models.CheckConstraint(
                condition=Q(status="active", cancelled_at__isnull=True, refunded_amount=0)
                | Q(status="cancelled", cancelled_at__isnull=False),
                name="rewards_careplansale_cancelled_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} · {self.starts_on} – {self.ends_on}"

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @property
    def claims_left(self) -> int:
        if self.is_cancelled:
            return 0
        return max(self.claims_allowed - self.claims_used, 0)


class CarePlanClaim(models.Model):
    """A claim under a sold plan: the member's service record of kind "care-plan claim" follows the
    service-record workflow (open → in progress → done or cancelled); settling it may issue a
    replacement (a zero-priced purchase line or a coupon), whose catalogue value is its cost."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("care plan claim", "Open")
        SETTLED = "settled", _("Settled")
        REJECTED = "rejected", _("Rejected")

    class Replacement(models.TextChoices):
        NONE = "none", _("No replacement")
        PRODUCT = "product", _("Replacement product (zero-priced line)")
        COUPON = "coupon", _("Coupon")

    sale = models.ForeignKey(
        CarePlanSale, verbose_name=_("care plan sold"), on_delete=models.PROTECT, related_name="claims"
    )
    service_record = models.OneToOneField(
        ServiceRecord, verbose_name=_("service record"), on_delete=models.PROTECT, related_name="care_plan_claim"
    )
    description = models.TextField(_("description"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    replacement = models.CharField(
        _("replacement"), max_length=10, choices=Replacement.choices, default=Replacement.NONE
    )
    replacement_purchase = models.OneToOneField(
        Purchase,
        verbose_name=_("replacement purchase"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    replacement_coupon = models.OneToOneField(
        Coupon, verbose_name=_("replacement coupon"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(pgettext_lazy("care plan claim", "claimed at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("care plan claim")
        verbose_name_plural = _("care plan claims")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="rewards_careplanclaim_cost_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sale.plan} · {self.get_status_display()}"
