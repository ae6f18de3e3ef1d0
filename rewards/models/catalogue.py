"""The reward catalogue, redemptions and coupons (re-exported by `rewards.models`).

Money-like state here — a reward's stock, a coupon's status, a redemption's points — changes only
through `rewards.services.redemptions` and `rewards.services.coupons`, under row locks
(`rewards.lock_objects`). Coupons copy their template's kind, value and minimum spend when issued,
so editing a template never changes a coupon a customer already holds.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from members.models import Member, TimeStamped
from rewards.ledger_reasons import with_note
from rewards.models.ledger import LedgerEntry
from rewards.models.tiers import Tier


class CouponKind(models.TextChoices):
    AMOUNT = "amount", _("Fixed amount off")
    PERCENT = "percent", _("Percentage off")
    FREE_DELIVERY = "free_delivery", _("Free delivery")


def _value_matches_kind() -> Q:
    return (
        Q(kind=CouponKind.AMOUNT, value__gt=0)
        | Q(kind=CouponKind.PERCENT, value__gt=0, value__lte=100)
        | Q(kind=CouponKind.FREE_DELIVERY, value=0)
    )


class CouponTemplate(TimeStamped):
    """What a coupon gives and for how long; `rewards.services.coupons.issue_coupon` issues codes."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=CouponKind.choices)
    value = models.DecimalField(
        pgettext_lazy("coupon", "value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("CNY off for a fixed amount, percent off (1–100) for a percentage, 0 for free delivery."),
    )
    min_spend = models.DecimalField(
        _("minimum spend"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("The order total (after the tier discount) must reach this amount."),
    )
    valid_days = models.PositiveSmallIntegerField(
        _("valid for (days)"),
        null=True,
        blank=True,
        help_text=_("Days a coupon stays valid after it is issued. Empty: only the end date below limits it."),
    )
    valid_from = models.DateTimeField(
        _("valid from"), null=True, blank=True, help_text=_("Coupons cannot be used before this moment.")
    )
    valid_until = models.DateTimeField(
        _("valid until"),
        null=True,
        blank=True,
        help_text=_("No coupon is issued after this moment, and no coupon is valid beyond it."),
    )
    per_member_limit = models.PositiveSmallIntegerField(
        _("limit per member"),
        null=True,
        blank=True,
        help_text=_("How many coupons of this template one member may hold (void ones excepted). Empty: no limit."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_value_matches_kind(),
                name="rewards_coupontemplate_value_matches_kind",
                violation_error_message=_(
                    "A fixed amount needs a value above 0, a percentage a value from 1 to 100, "
                    "free delivery a value of 0."
                ),
            ),
            models.CheckConstraint(condition=Q(min_spend__gte=0), name="rewards_coupontemplate_min_spend_gte_0"),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=True) | Q(valid_days__gte=1), name="rewards_coupontemplate_days_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="rewards_coupontemplate_window",
                violation_error_message=_("The end must come after the start."),
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="rewards_coupontemplate_limit_gte_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.kind == CouponKind.AMOUNT and (self.value is None or self.value <= 0):
            errors["value"] = _("A fixed amount off needs a value above 0.")
        if self.kind == CouponKind.PERCENT and (self.value is None or not 0 < self.value <= 100):
            errors["value"] = _("A percentage off needs a value from 1 to 100.")
        if self.kind == CouponKind.FREE_DELIVERY and self.value:
            errors["value"] = _("Free delivery has no value; leave 0.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)


class CouponQuerySet(models.QuerySet):
    def holding(self):
        """Coupons that count against a per-member limit: issued or used, not void."""
        return self.exclude(status=Coupon.Status.VOID)


class Coupon(models.Model):
    """One issued code. It belongs to one member; its status moves issued → redeemed or → void."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        REDEEMED = "redeemed", _("Used")
        VOID = "void", _("Void")

    class Source(models.TextChoices):
        REDEMPTION = "redemption", _("Points redemption")
        CAMPAIGN = "campaign", _("Campaign")
        MANUAL = "manual", _("Issued by staff")
        PARTNER = "partner", _("Partner")
        REFERRAL = "referral", _("Referral")
        CARE_PLAN = "care_plan", _("Care plan claim")

    class VoidReason(models.TextChoices):
        """Why code voided a coupon, rendered in the reader's language; what a person typed stays
        in `void_reason`."""

        REDEMPTION_CANCELLED = "redemption_cancelled", _("Redemption cancelled")
        BY_STAFF = "by_staff", _("Voided by staff")
        CAMPAIGN_NOT_SENT = "campaign_not_sent", _("The campaign message could not be sent.")

    code = models.CharField(_("code"), max_length=32, unique=True)
    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="coupons"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="coupons")
    kind = models.CharField(_("kind"), max_length=20, choices=CouponKind.choices)
    value = models.DecimalField(pgettext_lazy("coupon", "value"), max_digits=12, decimal_places=2)
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ISSUED)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    redemption = models.ForeignKey(
        "rewards.Redemption",
        verbose_name=_("redemption"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    starts_at = models.DateTimeField(_("valid from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    redeemed_ref = models.CharField(_("used on order"), max_length=64, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason_code = models.CharField(
        _("void reason code"), max_length=32, choices=VoidReason.choices, blank=True, default=""
    )
    void_reason = models.CharField(
        _("void note"), max_length=200, blank=True, help_text=_("What a person typed when voiding it.")
    )
    issue_reason = models.CharField(
        _("reason for issuing"), max_length=200, blank=True, help_text=_("Why staff issued it by hand.")
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = CouponQuerySet.as_manager()

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["member", "template"], name="rewards_coupon_member_tpl")]
        constraints = [
            models.CheckConstraint(condition=_value_matches_kind(), name="rewards_coupon_value_matches_kind"),
            models.CheckConstraint(
                condition=~Q(status="redeemed") | Q(redeemed_at__isnull=False), name="rewards_coupon_redeemed_has_time"
            ),
        ]
        permissions = [
            ("issue_coupon", _("Can issue a coupon to a member")),
            ("redeem_coupon", _("Can accept a coupon on an order")),
            ("void_coupon", _("Can void a coupon")),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def void_reason_text(self) -> str:
        """Why it was voided, in the active language (the code's label, then the typed note)."""
        return with_note(self.get_void_reason_code_display() if self.void_reason_code else "", self.void_reason)

    def describe(self) -> str:
        if self.kind == CouponKind.AMOUNT:
            return gettext("¥%(value)s off") % {"value": self.value}
        if self.kind == CouponKind.PERCENT:
            return gettext("%(value)s%% off") % {"value": self.value.normalize()}
        return gettext("Free delivery")


class RewardKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    COUPON = "coupon", _("Coupon")
    VOUCHER = "voucher", _("Voucher")
    EXPERIENCE = "experience", _("Experience")
    DONATION = "donation", _("Charity donation")


class Reward(TimeStamped):
    """Something members get for points. `stock` empty means unlimited; it never goes below 0."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    description = models.TextField(_("description"), blank=True)
    points_cost = models.PositiveIntegerField(_("points cost"))
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Units left. Empty: unlimited."))
    is_active = models.BooleanField(_("active"), default=True)
    valid_from = models.DateTimeField(_("available from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("available until"), null=True, blank=True)
    min_tier = models.ForeignKey(
        Tier,
        verbose_name=_("minimum tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Only members of this tier or higher may redeem it. Empty: every member."),
    )
    plan_members_only = models.BooleanField(
        _("paid members only"),
        default=False,
        help_text=_("Only members whose paid membership plan in force offers member-only rewards may redeem it."),
    )
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("coupon to issue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rewards",
        help_text=_("For coupon rewards: the coupon each unit redeemed issues."),
    )
    per_member_limit = models.PositiveIntegerField(
        _("limit per member"),
        null=True,
        blank=True,
        help_text=_("Units one member may redeem in all (cancelled redemptions excepted). Empty: no limit."),
    )

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "name", "id"]
        indexes = [models.Index(fields=["kind", "is_active"], name="rewards_reward_kind_active")]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="rewards_reward_points_cost_gt_0"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="rewards_reward_stock_gte_0"
            ),
            models.CheckConstraint(
                condition=~Q(kind="coupon") | Q(coupon_template__isnull=False),
                name="rewards_reward_coupon_has_template",
                violation_error_message=_("A coupon reward needs the coupon template it issues."),
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="rewards_reward_window",
                violation_error_message=_("The end must come after the start."),
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="rewards_reward_limit_gte_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.kind == RewardKind.COUPON and self.coupon_template_id is None:
            errors["coupon_template"] = _("A coupon reward needs the coupon template it issues.")
        if self.kind != RewardKind.COUPON and self.coupon_template_id is not None:
            errors["coupon_template"] = _("Only coupon rewards issue a coupon; leave this empty.")
        if self.points_cost is not None and self.points_cost <= 0:
            errors["points_cost"] = _("The points cost must be above 0.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)


class Redemption(models.Model):
    """Points exchanged for a reward, answered again from here for a retried `idempotency_key`."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class CancelReason(models.TextChoices):
        """Where a redemption was cancelled, when code says it (rendered in the reader's language);
        what a person typed stays in `cancel_reason`."""

        BACK_OFFICE = "back_office", _("Cancelled in the back office")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(Reward, verbose_name=_("reward"), on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    points_spent = models.PositiveIntegerField(_("points spent"))
    points_balance = models.IntegerField(_("balance after"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.COMPLETED)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    spend_entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("ledger entry"), on_delete=models.PROTECT, related_name="redemption"
    )
    lots_taken = models.JSONField(
        _("points taken per expiry date"),
        default=list,
        help_text=_("[[expires_on, points], …] — cancelling gives the points back with these dates."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("redeemed at"), auto_now_add=True, db_index=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_reason_code = models.CharField(
        _("cancellation reason code"), max_length=32, choices=CancelReason.choices, blank=True, default=""
    )
    cancel_reason = models.CharField(
        _("cancellation note"), max_length=200, blank=True, help_text=_("What a person typed when cancelling it.")
    )
    points_returned = models.PositiveIntegerField(_("points returned"), default=0)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["member", "-id"], name="rewards_redemption_member"),
            models.Index(fields=["reward", "member"], name="rewards_redemption_reward"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="rewards_redemption_quantity_gte_1"),
            models.CheckConstraint(condition=Q(points_spent__gt=0), name="rewards_redemption_points_gt_0"),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="rewards_redemption_cancelled_has_time",
            ),
        ]
        permissions = [("cancel_redemption", _("Can cancel a redemption (points and stock go back)"))]

    def __str__(self) -> str:
        return gettext("%(reward)s × %(quantity)d for %(member)s") % {
            "reward": self.reward,
            "quantity": self.quantity,
            "member": self.member.member_no,
        }

    @property
    def cancel_reason_text(self) -> str:
        """Why it was cancelled, in the active language (the code's label, then the typed note)."""
        code = self.get_cancel_reason_code_display() if self.cancel_reason_code else ""
        return with_note(code, self.cancel_reason)
