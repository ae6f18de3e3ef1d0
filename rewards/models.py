"""Points, tiers and the rules that earn them.

The ledger (`LedgerEntry`) is append-only: rows are never updated or deleted, reversals are new
rows. Each member's `PointsAccount` holds the running balance and lifetime figures, changed only
by `rewards.services` under a row lock in the same transaction as the ledger row, so the balance
always equals the ledger sum (docs/design.md invariant 1).

What is left of an earn row lives on its `PointsLot`, a separate mutable row: spending, refunds
and expiry consume lots oldest first (FIFO) while the ledger row itself stays untouched.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from members.models import Category, Member, Product, Purchase, SalesChannel, Store, TimeStamped

# The seeded tier names, marked for the translation catalogue; `Tier.display_name` translates
# whatever name is stored, so a renamed tier shows as typed.
SEED_TIER_NAMES = [gettext_noop("Regular"), gettext_noop("Silver"), gettext_noop("Gold"), gettext_noop("Diamond")]
SEED_TIER_BENEFITS = [
    # xgettext:no-python-format
    gettext_noop("10% off"),
    # xgettext:no-python-format
    gettext_noop("15% off"),
    # xgettext:no-python-format
    gettext_noop("20% off"),
    # xgettext:no-python-format
    gettext_noop("25% off, free delivery"),
]


class Tier(TimeStamped):
    """A membership level reached by the qualifying figure `TierPolicy` chooses (by default the
    lifetime spend net of refunds)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50, help_text=_("In English; translated when shown."))
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("0 is the entry tier."))
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=12,
        decimal_places=2,
        help_text=_(
            "The qualifying figure from which a member reaches this tier: spend in currency units, or points "
            "when the tier policy qualifies by points earned."
        ),
    )
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0.00"))
    free_delivery = models.BooleanField(_("free delivery"), default=False)
    benefits = models.TextField(_("benefits"), blank=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["threshold"], name="rewards_tier_unique_threshold"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="rewards_tier_threshold_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="rewards_tier_discount_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self):
        """Thresholds rise with rank, and the entry tier (rank 0) starts at 0."""
        if self.rank == 0 and self.threshold is not None and self.threshold != 0:
            raise ValidationError({"threshold": _("The entry tier (rank 0) starts at a spend of 0.")})
        others = Tier.objects.exclude(pk=self.pk)
        if self.threshold is None or self.rank is None:
            return
        lower = others.filter(rank__lt=self.rank, threshold__gte=self.threshold).first()
        higher = others.filter(rank__gt=self.rank, threshold__lte=self.threshold).first()
        clash = lower or higher
        if clash:
            raise ValidationError(
                {
                    "threshold": _("Thresholds must rise with rank: “%(tier)s” (rank %(rank)d) has %(threshold)s.")
                    % {"tier": clash.display_name, "rank": clash.rank, "threshold": clash.threshold}
                }
            )

    @property
    def display_name(self) -> str:
        return gettext(self.name) if self.name else self.code


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


class LedgerEntry(models.Model):
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

    account = models.ForeignKey(
        PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="ledger")
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
    reason = models.CharField(_("reason"), max_length=200, blank=True)
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

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Ledger rows are never updated; write a reversal row instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger rows are never deleted; write a reversal row instead.")


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


class TierHistory(models.Model):
    """One change of a member's tier, why, and the qualifying figure that decided it."""

    class Reason(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Manual change")
        REEVALUATION = "reevaluation", _("Periodic re-evaluation")
        WINDOW = "window", _("Rolling-window re-evaluation")
        GRACE_ENDED = "grace_ended", _("Grace period ended")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tier_history")
    from_tier = models.ForeignKey(
        Tier, verbose_name=_("from"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    purchase = models.ForeignKey(
        Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What decided the change (empty on rows written before tier policies existed).
    basis = models.CharField(_("qualifying basis"), max_length=20, blank=True, default="")
    window_months = models.PositiveSmallIntegerField(_("window (months)"), null=True, blank=True)
    figure = models.DecimalField(_("qualifying figure"), max_digits=14, decimal_places=2, null=True, blank=True)
    below_since = models.DateField(_("below the threshold since"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "-id"], name="rewards_tierhistory_member")]

    def __str__(self) -> str:
        return f"{self.from_tier} → {self.to_tier}"

    @property
    def note(self) -> str:
        """The figure that decided the change, in the reader's language."""
        if self.figure is None or not self.basis:
            return ""
        text = TierPolicy.describe_figure(self.basis, self.window_months, self.figure)
        if self.below_since:
            text += "; " + gettext("below the threshold since %(date)s") % {"date": self.below_since.isoformat()}
        return text


class EarnRule(TimeStamped):
    """How purchases earn points. One active base rule; multipliers for products or categories.

    A line earns base rate × the highest multiplier among the active rules naming its product or
    category (multipliers do not compound); the purchase's total is rounded down once.
    """

    class Kind(models.TextChoices):
        BASE = "base", _("Base rate (points per currency unit paid)")
        PRODUCT = "product", _("Product multiplier")
        CATEGORY = "category", _("Category multiplier")
        TIER = "tier", _("Tier multiplier")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    rate = models.DecimalField(
        _("rate or multiplier"),
        max_digits=6,
        decimal_places=2,
        help_text=_("Points per currency unit for the base rule; a multiplier (2 = double) for the others."),
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.CASCADE, null=True, blank=True, related_name="earn_rules"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["kind", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="rewards_earnrule_rate_gte_0"),
            models.CheckConstraint(
                condition=(Q(kind="base", product__isnull=True, category__isnull=True, tier__isnull=True))
                | Q(kind="product", product__isnull=False, category__isnull=True, tier__isnull=True)
                | Q(kind="category", category__isnull=False, product__isnull=True, tier__isnull=True)
                | Q(kind="tier", tier__isnull=False, product__isnull=True, category__isnull=True),
                name="rewards_earnrule_target_matches_kind_v2",
                violation_error_message=_(
                    "A product rule names a product, a category rule a category, a tier rule a tier, "
                    "the base rule none of them."
                ),
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="base", is_active=True), name="rewards_earnrule_one_active_base"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        """Name the field that is missing or too many for the kind (the constraint says it once more)."""
        targets = {"product": self.product_id, "category": self.category_id, "tier": self.tier_id}
        wanted = {self.Kind.PRODUCT: "product", self.Kind.CATEGORY: "category", self.Kind.TIER: "tier"}.get(self.kind)
        errors = {}
        for name, value in targets.items():
            if name == wanted and value is None:
                errors[name] = _("A rule of this kind needs one.")
            elif name != wanted and value is not None:
                errors[name] = _("Leave this empty for a rule of this kind.")
        if errors:
            raise ValidationError(errors)


class PurchasePosting(models.Model):
    """How `rewards` posted a purchase: the request's fingerprint and the first answer.

    A retry with the same `external_ref` is compared by fingerprint and answered from here.
    """

    purchase = models.OneToOneField(
        Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="posting"
    )
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    points_earned = models.IntegerField(_("points earned"))
    points_balance = models.IntegerField(_("balance after"))
    tier = models.ForeignKey(Tier, verbose_name=_("tier after"), on_delete=models.PROTECT, related_name="+")
    tier_changed = models.BooleanField(_("tier changed"))
    points_reversed = models.IntegerField(_("points reversed by refunds"), default=0)
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase posting")
        verbose_name_plural = _("purchase postings")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.purchase_id}: {self.points_earned:+d}"


class PurchaseRefund(models.Model):
    """One refund of a purchase (idempotent on `external_ref`) and its first answer."""

    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="refunds")
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(_("points reversed"))
    points_balance = models.IntegerField(_("balance after"))
    tier = models.ForeignKey(Tier, verbose_name=_("tier after"), on_delete=models.PROTECT, related_name="+")
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
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="rewards_refund_amount_gt_0")]

    def __str__(self) -> str:
        return f"{self.external_ref} ({self.amount})"


# Postings read the active policy through the cache; `rewards.receivers.forget_expiry_policy`
# drops it when a policy row is saved or deleted.
EXPIRY_POLICY_CACHE_KEY = "rewards:expiry-policy"
EXPIRY_POLICY_CACHE_SECONDS = 60


class ExpiryPolicy(TimeStamped):
    """When earned points expire. One active row (created by a data migration with the default);
    the posting service stamps each new lot with the date this policy gives. Changing the policy
    affects new lots only: lots keep the expiry date they were created with."""

    class Kind(models.TextChoices):
        YEAR_END_NEXT = "year_end_next", _("Cleared at the end of the next year (earned in Y, expire 31 Dec of Y+1)")
        YEAR_END = "year_end", _("Cleared at the end of the year earned (31 Dec of Y)")
        ROLLING = "rolling", _("Rolling: a number of months after earning")

    kind = models.CharField(
        _("policy"),
        max_length=20,
        choices=Kind.choices,
        default=Kind.YEAR_END_NEXT,
        help_text=_(
            "Applies to points earned from now on; points already earned keep the expiry date they were given."
        ),
    )
    months = models.PositiveSmallIntegerField(
        _("months"), null=True, blank=True, help_text=_("For the rolling policy: months from earning to expiry.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("expiry policy")
        verbose_name_plural = _("expiry policies")
        ordering = ["-is_active", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="rewards_expirypolicy_one_active"
            ),
            models.CheckConstraint(
                condition=~Q(kind="rolling") | Q(months__gte=1),
                name="rewards_expirypolicy_rolling_has_months",
                violation_error_message=_("A rolling policy needs a number of months (1 or more)."),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.ROLLING:
            return gettext("Rolling, %(months)d months") % {"months": self.months or 0}
        return str(self.get_kind_display())

    def clean(self):
        if self.kind == self.Kind.ROLLING and not self.months:
            raise ValidationError({"months": _("A rolling policy needs a number of months (1 or more).")})
        if self.kind != self.Kind.ROLLING and self.months:
            raise ValidationError({"months": _("Only the rolling policy uses months; leave it empty.")})


# --- earning: promotions, limits, the cached configuration --------------------------------

# The cached earning configuration (`rewards.services.earning.earning_config`) is dropped by
# `rewards.receivers.forget_earning_config` whenever one of the rows it is made of changes.
EARNING_CONFIG_CACHE_KEY = "rewards:earning-config"
EARNING_CONFIG_CACHE_SECONDS = 60


class Promotion(TimeStamped):
    """A time-limited promotion: a points multiplier (double points weekend) or fixed bonus points
    per purchase, from `starts_at` until `ends_at`, in the chosen stores and channels (none chosen:
    all). Of several running multiplier promotions the highest applies; bonus points add up."""

    class Kind(models.TextChoices):
        MULTIPLIER = "multiplier", _("Points multiplier")
        BONUS = "bonus", _("Fixed bonus points per purchase")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MULTIPLIER)
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("For a multiplier promotion: 2 = double points."),
    )
    bonus_points = models.PositiveIntegerField(
        _("bonus points"), null=True, blank=True, help_text=_("For a bonus promotion: points added to each purchase.")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), help_text=_("Purchases from this moment on no longer count."))
    stores = models.ManyToManyField(
        Store, verbose_name=_("stores"), blank=True, related_name="+", help_text=_("None chosen: every store.")
    )
    channels = models.JSONField(_("channels"), default=list, blank=True, help_text=_("None chosen: every channel."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="rewards_promotion_ends_after_start",
                violation_error_message=_("A promotion must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(kind="multiplier", multiplier__gte=0, bonus_points__isnull=True)
                | Q(kind="bonus", bonus_points__gt=0, multiplier__isnull=True),
                name="rewards_promotion_value_matches_kind",
                violation_error_message=_(
                    "A multiplier promotion has a multiplier and no bonus points; a bonus promotion the reverse."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("A promotion must end after it starts.")
        if self.kind == self.Kind.MULTIPLIER:
            if self.multiplier is None:
                errors["multiplier"] = _("Enter the multiplier (2 = double points).")
            if self.bonus_points is not None:
                errors["bonus_points"] = _("A multiplier promotion has no bonus points; leave this empty.")
        elif self.kind == self.Kind.BONUS:
            if not self.bonus_points:
                errors["bonus_points"] = _("Enter the bonus points (1 or more).")
            if self.multiplier is not None:
                errors["multiplier"] = _("A bonus promotion has no multiplier; leave this empty.")
        unknown = set(self.channels or []) - set(SalesChannel.values)
        if unknown:
            errors["channels"] = _("Unknown channel: %(channels)s.") % {"channels": ", ".join(sorted(unknown))}
        if errors:
            raise ValidationError(errors)


class EarningSettings(TimeStamped):
    """Purchase-wide earning limits: one row (pk 1), created by a data migration, edited in the
    admin; read through the cache with the rules. Empty = no limit."""

    SINGLETON_PK = 1

    min_spend = models.DecimalField(
        _("minimum spend"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("A purchase paying less than this earns no points (0: every purchase earns)."),
    )
    max_points_per_purchase = models.PositiveIntegerField(
        _("most points per purchase"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_points_per_day = models.PositiveIntegerField(
        _("most points per member per day"),
        null=True,
        blank=True,
        help_text=_(
            "Points a member's purchases may earn on one day (the purchase's date, Asia/Shanghai); "
            "activity bonuses do not count. Empty: no limit."
        ),
    )

    class Meta:
        verbose_name = _("earning limits")
        verbose_name_plural = _("earning limits")
        constraints = [models.CheckConstraint(condition=Q(min_spend__gte=0), name="rewards_earningsettings_min_gte_0")]

    def __str__(self) -> str:
        return gettext("Earning limits")

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)


# --- activity bonuses ------------------------------------------------------------------------


class ActivityBonus(TimeStamped):
    """Points for an activity (sign-up, birthday, …), at most once per `limit` period per member."""

    class Kind(models.TextChoices):
        SIGN_UP = "sign_up", _("Sign-up")
        BIRTHDAY = "birthday", _("Birthday")
        SURVEY = "survey", _("Survey completed")
        REVIEW = "review", _("Review")
        REFERRAL = "referral", _("Referral")
        EVENT = "event", _("Event attendance")

    class Limit(models.TextChoices):
        ONCE = "once", _("Once ever")
        YEARLY = "yearly", _("Once per year")
        MONTHLY = "monthly", _("Once per month")
        PER_REFERENCE = "per_reference", _("Once per reference (e.g. per referred member)")

    kind = models.CharField(_("activity"), max_length=20, choices=Kind.choices, unique=True)
    points = models.PositiveIntegerField(_("points"))
    limit = models.CharField(_("limit"), max_length=20, choices=Limit.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("activity bonus")
        verbose_name_plural = _("activity bonuses")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="rewards_activitybonus_points_gt_0")]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class BonusAward(models.Model):
    """One bonus given to one member. Unique per (member, bonus, period key), so the database
    refuses a second award in the same period even when two requests race."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="bonus_awards")
    bonus = models.ForeignKey(ActivityBonus, verbose_name=_("bonus"), on_delete=models.PROTECT, related_name="awards")
    period_key = models.CharField(_("period"), max_length=80)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    points = models.PositiveIntegerField(_("points"))
    entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("ledger entry"), on_delete=models.PROTECT, related_name="bonus_award"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    awarded_at = models.DateTimeField(_("awarded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("bonus award")
        verbose_name_plural = _("bonus awards")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "bonus", "period_key"], name="rewards_bonusaward_once_per_period")
        ]
        permissions = [("award_bonus", _("Can award an activity bonus by hand"))]

    def __str__(self) -> str:
        return f"{self.bonus} +{self.points} ({self.period_key})"


# --- paid membership (付费会员) -----------------------------------------------------------------


# The seeded plan's name, marked for the catalogue; `display_name` translates whatever is stored.
SEED_PLAN_NAMES = [gettext_noop("Annual plus")]


class MembershipPlan(TimeStamped):
    """A paid membership plan: bought for a fee, for a number of months, with its own perks."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, help_text=_("In English; translated when shown."))
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    duration_months = models.PositiveSmallIntegerField(
        _("duration (months)"), default=12, validators=[MinValueValidator(1)]
    )
    free_delivery = models.BooleanField(_("free delivery"), default=False)
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_("1.5 = half as many points again on purchases; 1 = no extra points."),
    )
    member_only_rewards = models.BooleanField(_("member-only rewards"), default=False)
    priority_booking = models.TextField(
        _("priority booking and events"), blank=True, help_text=_("What the plan gives for bookings and member events.")
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("membership plan")
        verbose_name_plural = _("membership plans")
        ordering = ["price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="rewards_plan_price_gte_0"),
            models.CheckConstraint(condition=Q(duration_months__gte=1), name="rewards_plan_duration_gte_1"),
            models.CheckConstraint(condition=Q(points_multiplier__gte=1), name="rewards_plan_multiplier_gte_1"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return gettext(self.name) if self.name else self.code


class MembershipSubscription(models.Model):
    """One purchase of a plan by a member, from `starts_on` to `ends_on` (both included).

    Written only by `rewards.services.memberships` (buy, cancel, expire). A renewal bought while
    a subscription runs starts the day after it ends."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="memberships")
    plan = models.ForeignKey(
        MembershipPlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="subscriptions"
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    price_paid = models.DecimalField(_("price paid"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sold by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    renewal_reminded_at = models.DateTimeField(_("renewal reminder sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("sold at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-starts_on", "-id"]
        indexes = [
            models.Index(fields=["member", "status", "ends_on"], name="rewards_subscription_member"),
            models.Index(fields=["status", "ends_on"], name="rewards_subscription_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="rewards_sub_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(price_paid__gte=0), name="rewards_sub_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.starts_on} – {self.ends_on}"


# The reward catalogue, redemptions and coupons live in their own module (same app, same tables prefix).
from rewards.models_catalogue import (  # noqa: E402, F401
    Coupon,
    CouponKind,
    CouponTemplate,
    Redemption,
    Reward,
    RewardKind,
)

# Postings read the policy through the cache; `rewards.receivers.forget_tier_policy` drops it
# when the row is saved or deleted.
TIER_POLICY_CACHE_KEY = "rewards:tier-policy"
TIER_POLICY_CACHE_SECONDS = 60


class TierPolicy(TimeStamped):
    """How members qualify for tiers. A single row (id 1), created by a data migration with the
    defaults — lifetime spend, a 12-month window for the window bases, 30 days of grace, periodic
    downgrades on — and edited by managers in the admin. Without the row the defaults apply."""

    SINGLETON_ID = 1

    class Basis(models.TextChoices):
        LIFETIME_SPEND = "lifetime_spend", _("Lifetime spend")
        WINDOW_SPEND = "window_spend", _("Spend in a rolling window of months")
        LIFETIME_POINTS = "lifetime_points", _("Points earned, lifetime")
        WINDOW_POINTS = "window_points", _("Points earned in a rolling window of months")

    WINDOW_BASES = (Basis.WINDOW_SPEND, Basis.WINDOW_POINTS)
    POINTS_BASES = (Basis.LIFETIME_POINTS, Basis.WINDOW_POINTS)

    basis = models.CharField(
        _("qualify by"),
        max_length=20,
        choices=Basis.choices,
        default=Basis.LIFETIME_SPEND,
        help_text=_(
            "What tier thresholds are compared with. Spend is what members paid, net of refunds; points "
            "earned are credits (purchases, bonuses, positive adjustments) less refund reversals — spending "
            "or expiry does not lower them. Thresholds are read in currency units for spend and in points "
            "for points."
        ),
    )
    window_months = models.PositiveSmallIntegerField(
        _("window (months)"),
        default=12,
        help_text=_(
            "For the rolling-window bases: a purchase counts from the day it was made until the same date "
            "this many months later."
        ),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("downgrade grace period (days)"),
        default=30,
        help_text=_(
            "A member whose figure falls below their tier's threshold keeps the tier for this many days; "
            "the nightly re-evaluation downgrades them only if they are still below when it ends (0: at once)."
        ),
    )
    downgrade = models.BooleanField(
        _("periodic re-evaluation downgrades"),
        default=True,
        help_text=_("Untick to let the nightly re-evaluation only upgrade. Refunds lower the tier at once either way."),
    )

    class Meta:
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policy")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="rewards_tierpolicy_singleton"),
            models.CheckConstraint(
                condition=Q(window_months__gte=1) & Q(window_months__lte=120),
                name="rewards_tierpolicy_window_1_120",
                violation_error_message=_("The window is 1 to 120 months."),
            ),
        ]

    def __str__(self) -> str:
        if self.basis in self.WINDOW_BASES:
            return gettext("%(basis)s (%(months)d months)") % {
                "basis": self.get_basis_display(),
                "months": self.window_months,
            }
        return str(self.get_basis_display())

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_ID  # there is only one policy: saving another replaces it
        if self.created_at is None:
            existing = TierPolicy.objects.filter(pk=self.pk).values_list("created_at", flat=True).first()
            self.created_at = existing or timezone.now()
        super().save(*args, **kwargs)

    def clean(self):
        if not self.window_months or not 1 <= self.window_months <= 120:
            raise ValidationError({"window_months": _("The window is 1 to 120 months.")})

    @property
    def uses_window(self) -> bool:
        return self.basis in self.WINDOW_BASES

    @property
    def uses_points(self) -> bool:
        return self.basis in self.POINTS_BASES

    @classmethod
    def describe_figure(cls, basis: str, window_months: int | None, figure) -> str:
        """“Spend in the last 12 months: 4,200.00” — the figure named and formatted in the reader's language."""
        if basis in cls.POINTS_BASES:
            shown = number_format(int(figure), 0, force_grouping=True)
        else:
            shown = number_format(figure, 2, force_grouping=True)
        if basis == cls.Basis.LIFETIME_SPEND:
            return gettext("Lifetime spend: %(figure)s") % {"figure": shown}
        if basis == cls.Basis.WINDOW_SPEND:
            return gettext("Spend in the last %(months)d months: %(figure)s") % {
                "months": window_months or 0,
                "figure": shown,
            }
        if basis == cls.Basis.LIFETIME_POINTS:
            return gettext("Points earned, lifetime: %(figure)s") % {"figure": shown}
        return gettext("Points earned in the last %(months)d months: %(figure)s") % {
            "months": window_months or 0,
            "figure": shown,
        }
