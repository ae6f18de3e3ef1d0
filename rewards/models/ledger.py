"""The points ledger and the accounts it balances.

The ledger (`LedgerEntry`) is append-only: rows are never updated or deleted, reversals are new
rows. Each member's `PointsAccount` holds the running balance and lifetime figures, changed only
by `rewards.services` under a row lock in the same transaction as the ledger row, so the balance
always equals the ledger sum (docs/design.md invariant 1).

What is left of an earn row lives on its `PointsLot`, a separate mutable row: spending, refunds
and expiry consume lots oldest first (FIFO) while the ledger row itself stays untouched.
`PurchasePosting` and `PurchaseRefund` keep the first answer to a posting or refund, so a retry
is answered from here.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member, Purchase
from rewards.ledger_reasons import Reason, render
from rewards.models.tiers import Tier


class PointsAccount(models.Model):
    """One per member: the balance and lifetime figures, always equal to the ledger's sums.

    `balance` may be negative, and only through a refund whose points were already spent: the
    debt is repaid by future earning (see `rewards.services.refunds`). So there is no
    `balance >= 0` constraint; the constraints below hold whatever the refund history.
    `lifetime_earned` is points credited (earned, bonus, positive adjustments) less refund
    reversals, so `balance <= lifetime_earned` always.
    """

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="points_account"
    )
    balance = models.IntegerField(_("points balance"), default=0)
    lifetime_earned = models.IntegerField(_("lifetime points earned"), default=0)
    lifetime_spend = models.DecimalField(_("lifetime spend"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="accounts")
    below_since = models.DateField(
        _("below the tier's threshold since"),
        null=True,
        blank=True,
        help_text=_(
            "Set by the periodic re-evaluation on the first day the member's qualifying figure is below their "
            "tier's threshold; cleared when they qualify again. The downgrade waits for the grace period."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        ordering = ["member_id"]
        constraints = [
            models.CheckConstraint(condition=Q(lifetime_earned__gte=0), name="rewards_account_earned_gte_0"),
            models.CheckConstraint(condition=Q(lifetime_spend__gte=0), name="rewards_account_spend_gte_0"),
            models.CheckConstraint(
                condition=Q(balance__lte=models.F("lifetime_earned")), name="rewards_account_balance_lte_earned"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Ledger rows are never updated; write a reversal row instead.")

    def delete(self):
        raise TypeError("Ledger rows are never deleted; write a reversal row instead.")


class AppendOnlyRow:
    """The instance side of an append-only ledger (with `AppendOnlyQuerySet` as its manager): a row
    is written once, never updated or deleted; a correction is a new row. Mixed into the points
    ledger and the stored-value ledger."""

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Ledger rows are never updated; write a reversal row instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger rows are never deleted; write a reversal row instead.")


class LedgerEntry(AppendOnlyRow, models.Model):
    """One change of a member's points. Never updated or deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        SPEND = "spend", _("Spent")
        EXPIRE = "expire", _("Expired")
        REFUND_REVERSAL = "refund_reversal", _("Refund reversal")
        ADJUSTMENT = "adjustment", _("Manual adjustment")
        BONUS = "bonus", _("Bonus")
        TRANSFER = "transfer", _("Transfer")
        # Points given back when a redemption is cancelled: not earned, so not in lifetime earned.
        REDEMPTION_RETURN = "redemption_return", _("Redemption cancelled")
        # Points that paid part of a purchase, given back when its goods are returned: spent, not
        # earned, so (like a cancelled redemption) not in lifetime earned.
        SPEND_RETURN = "spend_return", _("Points payment returned")

    Reason = Reason  # the reason codes (`rewards.ledger_reasons`), as `LedgerEntry.Reason`

    account = models.ForeignKey(
        PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="ledger",
        db_index=False,  # rewards_ledger_member (member, -id) serves every lookup by member
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    # Why the row exists: a code and its parameters, rendered in the reader's language
    # (`rewards.ledger_reasons.render`); `reason` keeps only what a person typed.
    reason_code = models.CharField(
        _("reason code"), max_length=32, choices=Reason.choices, default=Reason.NOTE, db_default=Reason.NOTE
    )
    reason_params = models.JSONField(
        _("reason parameters"), default=dict, blank=True, db_default=Value({}, output_field=models.JSONField())
    )
    reason = models.CharField(
        pgettext_lazy("ledger entry", "note"),
        max_length=200,
        blank=True,
        help_text=_("What a person typed: a manual adjustment's reason."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "-id"], name="rewards_ledger_member")]
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="rewards_ledger_points_not_0")]
        permissions = [("adjust_points", _("Can adjust a member's points by hand"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language (the code's sentence, then the typed note)."""
        return render(self.reason_code, self.reason_params, self.reason)


class BalanceCorrection(models.Model):
    """One repair of a points account to its ledger (`manage.py recompute_balances --fix`): what the
    account said and what the ledger says, who ran it and when. The ledger is the truth, so the
    repair writes no ledger row; this record is its trace, shown read-only in the admin. Never
    updated or deleted."""

    account = models.ForeignKey(
        PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="corrections"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+")
    balance_before = models.IntegerField(_("balance before"))
    balance_after = models.IntegerField(_("balance after (the ledger's sum)"))
    lifetime_earned_before = models.IntegerField(_("lifetime earned before"))
    lifetime_earned_after = models.IntegerField(_("lifetime earned after (the ledger's sum)"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("corrected at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("balance correction")
        verbose_name_plural = _("balance corrections")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance_before} → {self.balance_after}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Balance corrections are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Balance corrections are never deleted.")


class PointsLot(models.Model):
    """What is left of one credit (earn, bonus, positive adjustment) and when it expires.

    Changed only under the account's lock, by FIFO consumption (oldest expiry first).
    """

    entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("ledger entry"), on_delete=models.PROTECT, related_name="lot"
    )
    account = models.ForeignKey(PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="lots")
    points = models.PositiveIntegerField(_("points credited"))
    remaining = models.PositiveIntegerField(_("points remaining"))
    expired = models.PositiveIntegerField(_("points expired"), default=0)
    expires_on = models.DateField(_("expires on"))

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        ordering = ["expires_on", "id"]
        indexes = [
            models.Index(fields=["account", "expires_on", "id"], condition=Q(remaining__gt=0), name="rewards_lot_open"),
            models.Index(fields=["expires_on"], condition=Q(remaining__gt=0), name="rewards_lot_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__lte=models.F("points")) & Q(expired__lte=models.F("points")),
                name="rewards_lot_within_points",
            )
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} → {self.expires_on}"


class PurchasePosting(models.Model):
    """How `rewards` posted a purchase: the request's fingerprint and the first answer.

    A retry with the same `external_ref` is compared by fingerprint and answered from here; an API
    retry with the very body of the first request, by its digest alone.
    """

    purchase = models.OneToOneField(
        Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="posting"
    )
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    # A digest of the API body as sent (`services.purchases.request_digest`): a retry of that very
    # body is answered without reading it again. Empty when the posting came another way (admin,
    # till, batch, import) or before it existed: such retries are compared by fingerprint.
    request_digest = models.CharField(_("request body digest"), max_length=64, blank=True, default="", db_default="")
    points_earned = models.IntegerField(_("points earned"))
    points_balance = models.IntegerField(_("balance after"))
    # Empty for a walk-in sale (no member, so no tier).
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier after"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    tier_before = models.ForeignKey(
        Tier, verbose_name=_("tier before"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    tier_changed = models.BooleanField(_("tier changed"))
    points_reversed = models.IntegerField(_("points reversed by refunds"), default=0)
    # How the till priced it (`rewards.services.checkout.quote_checkout`); 0 / empty for a purchase
    # posted with its own total.
    tier_discount = models.DecimalField(
        _("tier discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    coupon_discount = models.DecimalField(
        _("coupon discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    coupon = models.ForeignKey(
        "rewards.Coupon",
        verbose_name=_("coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postings",
    )
    points_used = models.PositiveIntegerField(_("points used to pay"), default=0, db_default=0)
    points_value = models.DecimalField(
        _("paid with points"), max_digits=12, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    # [expiry date (ISO), points] of each lot the payment drew from, oldest first: returned goods
    # give the points back with the dates they had.
    lots_taken = models.JSONField(_("lots drawn from"), default=list, db_default=[], blank=True)
    points_returned = models.PositiveIntegerField(_("points given back by returns"), default=0, db_default=0)
    # Paid from the member's stored value (a tender beside money and points): the amount, its bonus
    # share (the rest is principal; points never earn on the bonus share), the balance just after,
    # and what returns have given back to the balance.
    stored_value_paid = models.DecimalField(
        _("paid from stored value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )
    stored_value_bonus = models.DecimalField(
        _("stored-value bonus share"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )
    stored_value_balance = models.DecimalField(
        _("stored value after"), max_digits=12, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    stored_value_returned = models.DecimalField(
        _("stored value given back by returns"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase posting")
        verbose_name_plural = _("purchase postings")
        ordering = ["-id"]
        permissions = [("override_till_price", _("Can change a product's price at the till"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_returned__lte=models.F("points_used")), name="rewards_posting_returned_lte_used"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purchase_id}: {self.points_earned:+d}"


class PurchaseRefund(models.Model):
    """One refund of a purchase (idempotent on `external_ref`) and its first answer."""

    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="refunds")
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(_("points reversed"))
    points_returned = models.PositiveIntegerField(_("points given back"), default=0)
    stored_value_returned = models.DecimalField(
        _("given back to stored value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )
    # The goods returned: [[purchase item id, quantity], …] (empty: a refund by amount).
    lines = models.JSONField(_("lines returned"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    points_balance = models.IntegerField(_("balance after"))
    # Empty for a walk-in sale.
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier after"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]
        permissions = [("refund_without_goods", _("Can refund an amount without goods returned"))]
        constraints = [
            # Something is given back: money, or (goods paid wholly with points) points.
            models.CheckConstraint(
                condition=Q(amount__gt=0) | (Q(amount=0) & Q(points_returned__gt=0)),
                name="rewards_refund_gives_back",
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} ({self.amount})"
