"""Stored value (储值卡): a member's prepaid balance, its append-only ledger, top-up rules and gifts.

Two balances are kept apart on `StoredValueAccount`: **principal** (money the customer paid) and
**bonus** (money the shop gave with a top-up). Both are changed only by
`rewards.services.stored_value` under the member's and the account's row locks, in the same
transaction as the `StoredValueEntry` row that records the change, so the account always equals its
ledger's sums (`rewards.services.integrity`). What is left of each bonus grant lives on its
`StoredValueBonusLot` (like `PointsLot`), which carries the expiry date a top-up rule may give it.
Principal never expires (docs/rules/stored-value.md).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty_crm.fields import EncryptedTextField
from members.models import Member, PaymentMethod, Purchase, Store
from rewards.models.ledger import AppendOnlyQuerySet, AppendOnlyRow

ZERO = Decimal("0.00")


def _money(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


class StoredValueAccount(models.Model):
    """One per member: principal and bonus, each ≥ 0, always equal to the ledger's sums."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="stored_value_account"
    )
    principal = _money(_("principal"), default=ZERO)
    bonus = _money(_("bonus balance"), default=ZERO)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stored-value account")
        verbose_name_plural = _("stored-value accounts")
        ordering = ["member_id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gte=0), name="rewards_sv_principal_gte_0"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="rewards_sv_bonus_gte_0"),
        ]
        permissions = [
            ("top_up_stored_value", _("Can top up a member's stored value and sell or hand over gifts")),
            ("pay_stored_value", _("Can take a payment from a member's stored value")),
            ("adjust_stored_value", _("Can adjust a member's stored value by hand")),
            ("cash_out_stored_value", _("Can cash out a member's stored value")),
            ("view_stored_value_liability", _("Can see the stored-value liability report")),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: ¥{self.principal} + ¥{self.bonus}"

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus


class TopUpRule(models.Model):
    """Pay at least `pay_amount`, get `bonus_amount` (and optionally points). Managers edit these."""

    name = models.CharField(_("name"), max_length=100)
    pay_amount = _money(_("pay at least"), help_text=_("The smallest top-up this rule applies to."))
    bonus_amount = _money(
        pgettext_lazy("stored value", "bonus"), default=ZERO, help_text=_("Stored-value bonus given once per top-up.")
    )
    points = models.PositiveIntegerField(_("points for topping up"), default=0)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    once_per_member = models.BooleanField(
        _("once per member"), default=False, help_text=_("A member may use this rule only once.")
    )
    bonus_expires_after_days = models.PositiveIntegerField(
        _("bonus expires after (days)"),
        null=True,
        blank=True,
        help_text=_("Leave empty: the bonus never expires. The principal never expires."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("top-up rule")
        verbose_name_plural = _("top-up rules")
        ordering = ["pay_amount", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(pay_amount__gt=0), name="rewards_topuprule_pay_gt_0"),
            models.CheckConstraint(condition=Q(bonus_amount__gte=0), name="rewards_topuprule_bonus_gte_0"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="rewards_topuprule_dates_ordered",
                violation_error_message=_("The rule must end on or after the day it starts."),
            ),
            models.CheckConstraint(
                condition=Q(bonus_expires_after_days__isnull=True) | Q(bonus_expires_after_days__gte=1),
                name="rewards_topuprule_expiry_gte_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_valid_on(self, day) -> bool:
        return (
            self.is_active
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
        )


class TopUp(models.Model):
    """One top-up (idempotent on `external_ref`): the money paid outside the system, the rule used and
    what it gave. Written only by `top_up`; never updated."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="top_ups")
    amount = _money(_("amount paid"))
    rule = models.ForeignKey(
        TopUpRule,
        verbose_name=_("top-up rule"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="top_ups",
    )
    bonus = _money(pgettext_lazy("stored value", "bonus"), default=ZERO)
    bonus_expires_on = models.DateField(_("bonus expires on"), null=True, blank=True)
    points = models.PositiveIntegerField(_("points given"), default=0)
    payment_method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("top-up")
        verbose_name_plural = _("top-ups")
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "rule"], name="rewards_topup_member_rule")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="rewards_topup_amount_gt_0"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="rewards_topup_bonus_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} (¥{self.amount})"


class StoredValueGift(models.Model):
    """Stored value bought by a member for another phone number, claimed once with its code.

    The phone is sealed like `Member.phone` and found by its lookup hash; the claim code is shown to
    the buyer (again for a retry of the same request), stored sealed and found by its keyed hash.
    Until it is claimed the amount is owed (the liability report counts it)."""

    buyer = models.ForeignKey(
        Member, verbose_name=_("buyer"), on_delete=models.PROTECT, related_name="stored_value_gifts_sent"
    )
    recipient_phone = EncryptedTextField(_("recipient's phone"))
    recipient_phone_hash = models.CharField(max_length=64, editable=False, db_index=True)
    amount = _money(_("amount"))
    # Sealed so a retry of the purchase can show the code again; found by its keyed hash.
    code = EncryptedTextField(_("claim code"))
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claimed_by = models.ForeignKey(
        Member,
        verbose_name=_("claimed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stored_value_gifts_claimed",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("bought at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("stored-value gift")
        verbose_name_plural = _("stored-value gifts")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="rewards_svgift_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True, claimed_at__isnull=True)
                | Q(claimed_by__isnull=False, claimed_at__isnull=False),
                name="rewards_svgift_claimed_together",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} (¥{self.amount})"


class StoredValueEntry(AppendOnlyRow, models.Model):
    """One change of a member's stored value, principal and bonus apart. Never updated or deleted.

    `external_ref` (with the request's fingerprint) makes payments, refunds, cash-outs, adjustments
    and gifts idempotent; a top-up's rows hang off their `TopUp`, which carries its reference, and
    an expiry row has none (the lot it empties is the guard).
    """

    class Kind(models.TextChoices):
        TOP_UP = "top_up", _("Top-up")
        BONUS = "bonus", _("Top-up bonus")
        PAYMENT = "payment", _("Payment")
        PAYMENT_REFUND = "payment_refund", _("Payment refunded")
        CASH_OUT = "cash_out", _("Cash-out")
        ADJUSTMENT = "adjustment", _("Manual adjustment")
        BONUS_EXPIRY = "bonus_expiry", _("Bonus expired")
        GIFT_SENT = "gift_sent", _("Gift bought")
        GIFT_CLAIMED = "gift_claimed", _("Gift claimed")

    account = models.ForeignKey(
        StoredValueAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="stored_value_entries"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    principal_delta = _money(_("principal change"))
    bonus_delta = _money(_("bonus change"))
    principal_after = _money(_("principal after"))
    bonus_after = _money(_("bonus after"))
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stored_value_entries",
    )
    top_up = models.ForeignKey(
        TopUp, verbose_name=_("top-up"), on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    gift = models.ForeignKey(
        StoredValueGift, verbose_name=_("gift"), on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    refunded_payment = models.ForeignKey(
        "self",
        verbose_name=_("payment refunded"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
    )
    # A payment's bonus share returns, when refunded, as a bonus lot expiring on this day (the latest
    # end date of the lots it drew from; empty: never).
    bonus_expires_on = models.DateField(_("bonus expires on"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    external_ref = models.CharField(_("external reference"), max_length=64, null=True, blank=True, unique=True)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as written, so the row still says who after the user is deleted.
    actor_username = models.CharField(_("username"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("stored-value entry")
        verbose_name_plural = _("stored-value ledger")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["member", "-id"], name="rewards_sv_entry_member"),
            models.Index(fields=["refunded_payment"], name="rewards_sv_entry_refunded"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(principal_delta=0) | ~Q(bonus_delta=0), name="rewards_sv_entry_not_0"),
            models.CheckConstraint(
                condition=Q(principal_after__gte=0) & Q(bonus_after__gte=0), name="rewards_sv_entry_after_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.principal_delta:+} / {self.bonus_delta:+}"

    @property
    def amount(self) -> Decimal:
        return self.principal_delta + self.bonus_delta

    @property
    def balance_after(self) -> Decimal:
        return self.principal_after + self.bonus_after


class StoredValueBonusLot(models.Model):
    """What is left of one bonus credit and when it lapses (None: never). Changed only under the
    account's lock: payments draw the lots that lapse first, expiry empties those past their date."""

    entry = models.OneToOneField(
        StoredValueEntry, verbose_name=_("stored-value entry"), on_delete=models.PROTECT, related_name="bonus_lot"
    )
    account = models.ForeignKey(
        StoredValueAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="bonus_lots"
    )
    amount = _money(_("bonus credited"))
    remaining = _money(_("bonus remaining"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("stored-value bonus lot")
        verbose_name_plural = _("stored-value bonus lots")
        ordering = ["expires_on", "id"]
        indexes = [
            models.Index(fields=["expires_on"], condition=Q(remaining__gt=0), name="rewards_svlot_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("amount")), name="rewards_svlot_within"
            )
        ]

    def __str__(self) -> str:
        return f"¥{self.remaining}/¥{self.amount} → {self.expires_on or '∞'}"


class StoredValueLiability(StoredValueAccount):
    """No table of its own: the admin's "Stored-value liability" report (what the shop owes on
    prepaid balances), shown to holders of `rewards.view_stored_value_liability`."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("stored-value liability")
        verbose_name_plural = _("stored-value liability")
