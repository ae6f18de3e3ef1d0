"""Classification: the policy, each member's scores (RFM, CLV) and the runs that computed them."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member, TimeStamped


class Classification(models.TextChoices):
    """A member's class (docs/design.md "Classification"); the first four are docs/api.md's."""

    HIGH_VALUE = "high_value", _("High value")
    POTENTIAL = "potential", _("Potential")
    ORDINARY = "ordinary", _("Ordinary")
    LAPSED = "lapsed", _("Lapsed")
    NO_PURCHASES = "no_purchases", _("No purchases yet")


class ClassificationPolicy(TimeStamped):
    """The one set of classification settings (a singleton, row id 1), edited by managers.

    Defaults: the top 20% by spend over the last 12 months are high-value; a member whose last
    purchase is more than 730 days old is lapsed (730, not 365: with a 12-month window a 365-day
    lapse would leave "ordinary" empty); the CLV horizon is 12 months.
    """

    high_value_share = models.PositiveSmallIntegerField(
        _("high-value share (%)"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("The top share of members who bought in the window, by spend in the window."),
    )
    window_months = models.PositiveSmallIntegerField(
        _("window (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Spend and purchase counts are taken over this many months up to the classification date."),
    )
    lapsed_after_days = models.PositiveIntegerField(
        _("lapsed after (days)"),
        default=730,
        validators=[MinValueValidator(1)],
        help_text=_("A member whose last purchase is older than this is lapsed, whatever else is true."),
    )
    clv_horizon_months = models.PositiveSmallIntegerField(
        _("CLV horizon (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Customer lifetime value is the spend expected over this many months."),
    )

    class Meta:
        verbose_name = _("classification policy")
        verbose_name_plural = _("classification policy")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="campaigns_classificationpolicy_singleton"),
            models.CheckConstraint(
                condition=Q(high_value_share__gte=1) & Q(high_value_share__lte=100),
                name="campaigns_policy_share_1_100",
            ),
            models.CheckConstraint(condition=Q(window_months__gte=1), name="campaigns_policy_window_gte_1"),
            models.CheckConstraint(condition=Q(lapsed_after_days__gte=1), name="campaigns_policy_lapsed_gte_1"),
            models.CheckConstraint(condition=Q(clv_horizon_months__gte=1), name="campaigns_policy_horizon_gte_1"),
        ]

    def __str__(self) -> str:
        return str(_("Classification policy"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> ClassificationPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class MemberScore(models.Model):
    """One row per member, rewritten by each classification run (`campaigns.services.classification`).

    Derived data only: nothing else writes it, and it can always be recomputed from purchases.
    RFM and money figures are NULL for members who never bought.
    """

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="campaign_score"
    )
    as_of = models.DateField(_("as of"))
    classification = models.CharField(_("classification"), max_length=20, choices=Classification.choices, db_index=True)
    spend_12m = models.DecimalField(_("spend in the window"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    purchases_12m = models.PositiveIntegerField(_("purchases in the window"), default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("days since last purchase"), null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True)
    rfm_score = models.PositiveSmallIntegerField(
        _("RFM score"), null=True, blank=True, help_text=_("R + F + M, from 3 to 15.")
    )
    p_alive = models.FloatField(_("probability still active"), null=True, blank=True)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    expected_purchases = models.FloatField(_("expected purchases (CLV horizon)"), null=True, blank=True)
    clv = models.DecimalField(_("CLV estimate"), max_digits=14, decimal_places=2, null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("member score")
        verbose_name_plural = _("member scores")
        ordering = ["member_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(r_score__isnull=True) | (Q(r_score__gte=1) & Q(r_score__lte=5)),
                name="campaigns_score_r_1_5",
            ),
            models.CheckConstraint(
                condition=Q(f_score__isnull=True) | (Q(f_score__gte=1) & Q(f_score__lte=5)),
                name="campaigns_score_f_1_5",
            ),
            models.CheckConstraint(
                condition=Q(m_score__isnull=True) | (Q(m_score__gte=1) & Q(m_score__lte=5)),
                name="campaigns_score_m_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} · {self.get_classification_display()}"


class ClassificationRun(models.Model):
    """What one classification run did: when, how many of each class, and the fitted CLV model."""

    as_of = models.DateField(_("as of"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    members = models.PositiveIntegerField(_("members"))
    counts = models.JSONField(_("members per class"), default=dict)
    settings = models.JSONField(_("settings used"), default=dict)
    model = models.JSONField(
        _("CLV model"), default=dict, blank=True, help_text=_("BG/NBD and Gamma-Gamma parameters fitted in this run.")
    )

    class Meta:
        verbose_name = _("classification run")
        verbose_name_plural = _("classification runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.members})"


# --- referral (推荐有礼) ----------------------------------------------------------------------
# Added by the `referral` branch. The services are in campaigns/services/referrals.py.
