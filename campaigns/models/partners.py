"""Partner marketing (联合营销): partners, their code pools and codes, offers and the coupons they issued."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import TimeStamped


class Partner(TimeStamped):
    """A business we run joint marketing with (a café, a cinema, a bank)."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=32, unique=True)
    contact = models.CharField(
        _("contact"), max_length=200, blank=True, help_text=_("Who to call at the partner (a business contact).")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name", "id"]
        permissions = [("view_partner_report", _("Can view the partner report"))]

    def __str__(self) -> str:
        return self.name


class PartnerCodePool(TimeStamped):
    """Codes a partner supplied: either codes we hand out to our members (a partner offer gives
    one per qualifying purchase, to use at the partner's) or codes the partner gave its customers,
    accepted at our checkout (each becomes a coupon of `coupon_template` for the member)."""

    class Purpose(models.TextChoices):
        HAND_OUT = "hand_out", _("Handed out to our members (used at the partner's)")
        ACCEPT = "accept", _("Accepted at our checkout (issued by the partner)")

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(_("name"), max_length=100)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("coupon given for a code"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("For accepted codes: the coupon a member gets for the partner's code."),
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("partner code pool")
        verbose_name_plural = _("partner code pools")
        ordering = ["partner__name", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(purpose="accept") | Q(coupon_template__isnull=False),
                name="campaigns_pool_accept_has_template",
                violation_error_message=_("Codes accepted at checkout need the coupon they are worth."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.name}"

    def clean(self):
        if self.purpose == self.Purpose.ACCEPT and not self.coupon_template_id:
            raise ValidationError({"coupon_template": _("Codes accepted at checkout need the coupon they are worth.")})
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValidationError({"valid_until": _("The end must come after the start.")})


class PartnerCode(models.Model):
    """One partner-supplied code. `available` → `issued` (handed to a member) or `accepted`
    (redeemed at our checkout, turned into the member's coupon); each code is used once."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        ISSUED = "issued", _("Handed out")
        ACCEPTED = "accepted", _("Accepted")

    pool = models.ForeignKey(PartnerCodePool, verbose_name=_("pool"), on_delete=models.PROTECT, related_name="codes")
    code = models.CharField(_("code"), max_length=32, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_codes",
    )
    coupon = models.OneToOneField(
        "rewards.Coupon",
        verbose_name=_("coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_code",
    )
    external_ref = models.CharField(_("order reference"), max_length=64, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    created_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner code")
        verbose_name_plural = _("partner codes")
        ordering = ["pool", "id"]
        indexes = [models.Index(fields=["pool", "status"], name="campaigns_partnercode_pool_st")]
        permissions = [("accept_partner_code", _("Can accept a partner's code at checkout"))]

    def __str__(self) -> str:
        return self.code


class PartnerOffer(TimeStamped):
    """A purchase whose paid total reaches `threshold` gives the member the partner's coupon (a
    rewards coupon template) or one code from a hand-out pool — once per purchase."""

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="offers")
    name = models.CharField(_("name"), max_length=100)
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("coupon to issue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    code_pool = models.ForeignKey(
        PartnerCodePool,
        verbose_name=_("partner codes to hand out"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
        limit_choices_to={"purpose": "hand_out"},
    )
    threshold = models.DecimalField(
        _("minimum paid total"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("200.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A purchase paying at least this much (after discounts) gets the offer."),
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("partner offer")
        verbose_name_plural = _("partner offers")
        ordering = ["partner__name", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(coupon_template__isnull=True, code_pool__isnull=False)
                | Q(coupon_template__isnull=False, code_pool__isnull=True),
                name="campaigns_offer_template_xor_pool",
                violation_error_message=_("Choose either a coupon to issue or partner codes to hand out."),
            ),
            models.CheckConstraint(condition=Q(threshold__gt=0), name="campaigns_offer_threshold_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.name}"

    def clean(self):
        errors = {}
        if bool(self.coupon_template_id) == bool(self.code_pool_id):
            errors["coupon_template"] = _("Choose either a coupon to issue or partner codes to hand out.")
        if self.code_pool_id and self.partner_id and self.code_pool.partner_id != self.partner_id:
            errors["code_pool"] = _("The codes must be this partner's.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)


class PartnerOfferIssue(models.Model):
    """What one purchase got from one offer: unique (offer, purchase), so a purchase gets each
    offer once however often its posting is replayed."""

    offer = models.ForeignKey(PartnerOffer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="issues")
    purchase = models.ForeignKey(
        "members.Purchase", verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="+"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="partner_offer_issues"
    )
    coupon = models.OneToOneField(
        "rewards.Coupon",
        verbose_name=_("coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_offer_issue",
    )
    partner_code = models.OneToOneField(
        PartnerCode,
        verbose_name=_("partner code"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offer_issue",
    )
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("partner offer issue")
        verbose_name_plural = _("partner offer issues")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "purchase"], name="campaigns_offer_once_per_purchase"),
        ]

    def __str__(self) -> str:
        return f"{self.offer} → {self.purchase.external_ref}"


# --- automations (issue 6, "Automations") -------------------------------------------------------
