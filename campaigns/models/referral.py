"""Referral programme (推荐有礼): the programme, the rewards it granted and the referrer proxy."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import Member, TimeStamped


class ReferralProgramme(TimeStamped):
    """The referral programme's settings: one row (pk 1), edited in the admin.

    When a referred member's first purchase is posted, both members get their reward once
    (campaigns.services.referrals.reward_referral). Points go through rewards' services: the "Referral"
    activity bonus (its points, once per referred member), a fixed number, or a percentage of the
    first purchase's paid total; coupons through rewards' issue_coupon.
    """

    SINGLETON_PK = 1

    class ReferrerPoints(models.TextChoices):
        NONE = "none", _("No points")
        ACTIVITY_BONUS = "activity_bonus", _("The “Referral” activity bonus (its points)")
        FIXED = "fixed", _("A fixed number of points")
        PERCENT = "percent", _("A percentage of the first purchase (1 point per yuan)")

    is_active = models.BooleanField(_("active"), default=True)
    referrer_points_mode = models.CharField(
        _("referrer's points"),
        max_length=20,
        choices=ReferrerPoints.choices,
        default=ReferrerPoints.ACTIVITY_BONUS,
    )
    referrer_points = models.PositiveIntegerField(
        _("referrer's fixed points"), default=0, help_text=_("Used when the referrer gets a fixed number of points.")
    )
    referrer_percent = models.DecimalField(
        _("referrer's percentage"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "Used when the referrer's points follow the first purchase: e.g. 10 gives 35 points for ¥350 paid "
            "(rounded down)."
        ),
    )
    referrer_coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("referrer's coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    referred_points = models.PositiveIntegerField(
        _("referred member's points"), default=100, help_text=_("0 gives no points.")
    )
    referred_coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("referred member's coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("referral programme")
        verbose_name_plural = _("referral programme")

    def __str__(self) -> str:
        return gettext("Referral programme")

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    def clean(self):
        if self.referrer_points_mode == self.ReferrerPoints.FIXED and not self.referrer_points:
            raise ValidationError({"referrer_points": _("Enter the referrer's points (above 0).")})
        if self.referrer_points_mode == self.ReferrerPoints.PERCENT and not self.referrer_percent:
            raise ValidationError({"referrer_percent": _("Enter the referrer's percentage (above 0).")})

    @classmethod
    def load(cls) -> ReferralProgramme:
        """The programme's settings; the defaults (active, the activity bonus for the referrer,
        100 points for the referred member) on a fresh database."""
        programme, _created = cls.objects.get_or_create(pk=cls.SINGLETON_PK)
        return programme


class ReferralReward(models.Model):
    """The referral reward of one referred member: at most one row per referred member (the
    database's unique constraint), written when their first purchase is posted, never updated
    by a refund. `not_rewarded` rows record a first purchase made while the programme was off."""

    class Status(models.TextChoices):
        REWARDED = "rewarded", _("Rewarded")
        NOT_REWARDED = "not_rewarded", _("Not rewarded")

    referred = models.OneToOneField(
        "members.Member",
        verbose_name=_("referred member"),
        on_delete=models.PROTECT,
        related_name="referral_reward",
    )
    referrer = models.ForeignKey(
        "members.Member",
        verbose_name=_("referrer"),
        on_delete=models.PROTECT,
        related_name="referral_rewards_given",
    )
    purchase = models.ForeignKey(
        "members.Purchase",
        verbose_name=_("first purchase"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    referrer_points = models.PositiveIntegerField(_("referrer's points"), default=0)
    referred_points = models.PositiveIntegerField(_("referred member's points"), default=0)
    referrer_coupon = models.ForeignKey(
        "rewards.Coupon",
        verbose_name=_("referrer's coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    referred_coupon = models.ForeignKey(
        "rewards.Coupon",
        verbose_name=_("referred member's coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("rewarded at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("referral reward")
        verbose_name_plural = _("referral rewards")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referred=F("referrer")), name="campaigns_referral_not_self"),
        ]

    def __str__(self) -> str:
        return gettext("Referral reward for %(member_no)s") % {"member_no": self.referred.member_no}


class Referrer(Member):
    """Members seen as referrers: the admin's per-referrer counts (a proxy, no table)."""

    class Meta:
        proxy = True
        verbose_name = _("referrer")
        verbose_name_plural = _("referrers")


# --- partner marketing (联合营销) --------------------------------------------------------------
# Added by the `referral` branch. The services are in campaigns/services/partners.py.
