"""How points are earned and when they expire: earning rules, the expiry policy, promotions, the
purchase-wide limits and activity bonuses.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from members.models import Category, Member, Product, SalesChannel, Store, TimeStamped
from rewards.models.ledger import LedgerEntry
from rewards.models.tiers import Tier


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
    earn_on_stored_value_bonus = models.BooleanField(
        _("earn on the stored-value bonus share"),
        default=False,
        help_text=_(
            "When off (the default), a purchase paid from stored value earns on the principal share only, "
            "never on the bonus share the shop gave. When on, the bonus share earns like money."
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
    reference = models.CharField(pgettext_lazy("bonus", "reference"), max_length=64, blank=True)
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


# --- paying with points ----------------------------------------------------------------------

POINTS_PAYMENT_CACHE_KEY = "rewards:points-payment"
POINTS_PAYMENT_CACHE_SECONDS = 60


class PointsPaymentSettings(TimeStamped):
    """Paying with points (积分抵现): one row (pk 1), edited by managers in the admin; read through
    the cache (`rewards.selectors.points_payment_settings`). No row = these defaults."""

    SINGLETON_PK = 1

    points_per_yuan = models.PositiveIntegerField(
        _("points per yuan"),
        default=100,
        validators=[MinValueValidator(1)],
        help_text=_("How many points pay ¥1 (100: 100 points = ¥1)."),
    )
    max_percent = models.PositiveSmallIntegerField(
        _("most of an order, in percent"),
        default=50,
        validators=[MaxValueValidator(100)],
        help_text=_("The largest share of an order's total that points may pay (0: paying with points is off)."),
    )
    min_points = models.PositiveIntegerField(
        _("fewest points per use"),
        default=100,
        help_text=_("Fewer points than this cannot be used at once."),
    )
    covers_delivery = models.BooleanField(
        _("points may pay delivery"),
        default=False,
        help_text=_("When off, the delivery line (its SKU below) is left out of what points may pay."),
    )
    delivery_sku = models.CharField(
        _("delivery SKU"),
        max_length=64,
        default="DELIVERY",
        blank=True,
        help_text=_("The SKU of the basket line that charges delivery."),
    )

    class Meta:
        verbose_name = _("paying with points")
        verbose_name_plural = _("paying with points")
        constraints = [
            models.CheckConstraint(condition=Q(points_per_yuan__gte=1), name="rewards_pointspayment_rate_gte_1"),
            models.CheckConstraint(condition=Q(max_percent__lte=100), name="rewards_pointspayment_percent_lte_100"),
        ]

    def __str__(self) -> str:
        return gettext("Paying with points")

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)
