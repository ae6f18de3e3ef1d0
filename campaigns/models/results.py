"""Campaign results: offers and grants, message engagement, pilots and KPI targets."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models.classification import Classification
from campaigns.models.dispatch import Campaign, OutboxMessage
from members.models import Member


class CampaignOffer(models.Model):
    """What a campaign gives each member it is actually sent to: a coupon or bonus points.

    Given through `rewards.services` once per outbox message (`OfferGrant`); the control group,
    skipped and failed messages get nothing.
    """

    class Kind(models.TextChoices):
        COUPON = "coupon", _("Coupon")
        POINTS = "points", _("Bonus points")

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="offer"
    )
    kind = models.CharField(_("offer"), max_length=10, choices=Kind.choices)
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("coupon"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Each recipient gets one coupon of this template; the message shows it as {{ coupon.code }}."),
    )
    points = models.PositiveIntegerField(
        _("bonus points"),
        default=0,
        help_text=_("Credited when the message is sent; the message shows {{ offer_points }}."),
    )

    class Meta:
        verbose_name = _("campaign offer")
        verbose_name_plural = _("campaign offers")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="coupon", coupon_template__isnull=False, points=0))
                | (Q(kind="points", coupon_template__isnull=True, points__gt=0)),
                name="campaigns_offer_kind_matches",
                violation_error_message=_("A coupon offer needs a coupon template; a points offer needs points."),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.POINTS:
            return _("%(points)s bonus points") % {"points": self.points}
        return str(self.coupon_template)


class OfferGrant(models.Model):
    """The offer given for one outbox message (unique: so never twice for a step and member)."""

    message = models.OneToOneField(
        OutboxMessage,
        verbose_name=pgettext_lazy("outbox", "message"),
        on_delete=models.CASCADE,
        related_name="offer_grant",
    )
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    coupon = models.OneToOneField(
        "rewards.Coupon", verbose_name=_("coupon"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    points = models.PositiveIntegerField(_("bonus points"), default=0)
    ledger_entry = models.ForeignKey(
        "rewards.LedgerEntry", verbose_name=_("ledger entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("given at"), auto_now_add=True)

    class Meta:
        verbose_name = _("offer given")
        verbose_name_plural = _("offers given")
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign"], name="campaigns_grant_campaign")]

    def __str__(self) -> str:
        return f"{self.message_id}"


class MessageEngagement(models.Model):
    """First open and first click of one email (the signed pixel and redirect links)."""

    message = models.OneToOneField(
        OutboxMessage,
        verbose_name=pgettext_lazy("outbox", "message"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="engagement",
    )
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    clicked_url = models.URLField(_("first link clicked"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("email engagement")
        verbose_name_plural = _("email engagement")
        indexes = [models.Index(fields=["campaign"], name="campaigns_engagement_campaign")]

    def __str__(self) -> str:
        return f"{self.message_id}"


class CampaignPilot(models.Model):
    """A campaign launched first on a sample: a random share of its audience, or only the
    audience's members of one classification (e.g. high value). After the results, "expand"
    sends the campaign as step 2 to the rest of the audience not yet contacted."""

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="pilot"
    )
    sample_pct = models.PositiveSmallIntegerField(
        _("pilot share (%)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("A random share of the audience to try the campaign on first."),
    )
    classification = models.CharField(
        _("pilot classification"),
        max_length=20,
        choices=Classification.choices,
        blank=True,
        help_text=_("Or try it first on the audience's members of one classification (e.g. high value)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expanded_at = models.DateTimeField(_("expanded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pilot")
        verbose_name_plural = _("pilots")
        constraints = [
            models.CheckConstraint(
                condition=(Q(sample_pct__isnull=False) & Q(classification=""))
                | (Q(sample_pct__isnull=True) & ~Q(classification="")),
                name="campaigns_pilot_one_rule",
                violation_error_message=_("Choose either a pilot share or a classification."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.campaign)


class CampaignKpiTarget(models.Model):
    """A manager's target for a marketing KPI of the monthly report: a change versus a baseline
    month (e.g. repurchase rate +20% within 6 months of March), shown against the actuals."""

    class Metric(models.TextChoices):
        REPURCHASE_RATE = "repurchase_rate", _("Repurchase rate of members")
        PARTICIPATION_RATE = "participation_rate", _("Campaign participation rate")
        REDEMPTION_RATE = "redemption_rate", _("Campaign coupon redemption rate")

    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices)
    baseline_month = models.DateField(
        _("baseline month"), help_text=_("Any day of the month the change is measured from.")
    )
    change_percent = models.DecimalField(
        _("change versus baseline (%)"),
        max_digits=6,
        decimal_places=1,
        # xgettext:no-python-format
        help_text=_("E.g. 20 for +20%, −10 for a 10% fall."),
    )
    months = models.PositiveSmallIntegerField(
        _("within (months)"), default=6, validators=[MinValueValidator(1), MaxValueValidator(36)]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("marketing KPI target")
        verbose_name_plural = _("marketing KPI targets")
        ordering = ["metric", "-baseline_month"]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.change_percent:+}%"
