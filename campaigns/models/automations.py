"""Automations: birthday, holiday, win-back and expiry triggers and their occurrences."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models.dispatch import Campaign, CampaignStep
from members.models import TimeStamped


class Automation(TimeStamped):
    """A campaign sent by a trigger instead of by hand (`campaigns.services.automations`).

    Its campaign (created on the first save from the admin) holds the channel, language,
    templates and optional segment; it stays `sending` while it exists (the dispatch never
    completes it) and is never launched. Each occurrence of the trigger (a birthday year, a
    holiday's year, a month of points expiry, a day of tier upgrades or of new lapses, a resolved
    feedback ticket) gets its own campaign step, so the outbox's unique (step, member) makes a
    second message to a member for the same occurrence impossible.
    """

    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        WIN_BACK = "win_back", _("Win-back of lapsed members")
        POINTS_EXPIRY = "points_expiry", _("Points-expiry reminder")
        TIER_UPGRADE = "tier_upgrade", _("Tier upgrade congratulation")
        HOLIDAY = "holiday", _("Holiday greeting")
        WELCOME = "welcome", _("Welcome: first message")
        WELCOME_FOLLOW_UP = "welcome_follow_up", _("Welcome: follow-up")
        RENEWAL_REMINDER = "renewal_reminder", _("Paid-membership renewal reminder")
        SATISFACTION_SURVEY = "satisfaction_survey", _("Satisfaction survey after a resolved ticket")
        BONUS_LAPSE = "bonus_lapse", _("Stored-value bonus lapse reminder")
        CARE_PLAN_EXPIRY = "care_plan_expiry", _("Care plan expiry reminder")
        EVENT_REMINDER = "event_reminder", _("Member event reminder")
        EVENT_SEAT = "event_seat", _("Member event: seat confirmed from the waitlist")
        IMPORTANT_DATE = "important_date", _("Important date greeting")

    class WinBackRule(models.TextChoices):
        LAPSED = "lapsed", _("Lapsed (from the nightly classification)")
        CHURN_RISK = "churn_risk", _("Churn risk at least the threshold")
        USUAL_INTERVAL = "usual_interval", _("Overdue against their own usual interval")

    # Created with the default message when the automation is first configured (so an automation
    # never switched on leaves no campaign in the campaign list).
    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="automation",
    )  # fmt: skip
    kind = models.CharField(_("trigger"), max_length=20, choices=Kind.choices)
    # The code of a `members.Holiday` of the shop's calendar (its date rule and lead days drive the
    # greeting); one automation per holiday, made for each holiday the calendar holds.
    holiday = models.CharField(_("holiday"), max_length=40, blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=False)
    days_before = models.PositiveSmallIntegerField(
        _("days"),
        default=0,
        validators=[MaxValueValidator(90)],
        help_text=_(
            "Birthday, points expiry, stored-value bonus lapse, care plan expiry, member event reminder, important "
            "date: how many days before the date the message goes out. "
            "Holiday greetings follow the lead days of the holiday calendar. "
            "Win-back: how many days after becoming lapsed a member is still greeted. "
            "Welcome follow-up: how many days after sign-up it goes out. "
            "Satisfaction survey: how many days after the ticket was resolved it goes out."
        ),
    )
    win_back_rule = models.CharField(
        _("win-back rule"),
        max_length=20,
        choices=WinBackRule.choices,
        default=WinBackRule.LAPSED,
        help_text=_("Win-back only: who is greeted."),
    )
    win_back_churn_risk = models.DecimalField(
        _("churn risk threshold"), max_digits=3, decimal_places=2, default=Decimal("0.60"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1.00"))],
        help_text=_("Churn-risk rule: greet members whose churn risk is at least this (0.60 = 60%)."),
    )  # fmt: skip
    win_back_interval_factor = models.DecimalField(
        _("interval factor"), max_digits=4, decimal_places=2, default=Decimal("1.50"),
        validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("10.00"))],
        help_text=_(
            "Usual-interval rule: greet members whose days since their last purchase exceed this many times "
            "their own mean gap between purchases (two purchases at least)."
        ),
    )  # fmt: skip
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        verbose_name=_("coupon offer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Optional. A coupon of this template is issued to each member the message is sent to."),
    )
    last_run_on = models.DateField(_("last run on"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        ordering = ["kind", "holiday"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "holiday"], name="campaigns_automation_unique_trigger"),
            models.CheckConstraint(
                condition=(Q(kind="holiday") & ~Q(holiday="")) | (~Q(kind="holiday") & Q(holiday="")),
                name="campaigns_automation_holiday_iff_kind",
            ),
            models.CheckConstraint(condition=Q(days_before__lte=90), name="campaigns_automation_days_lte_90"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.HOLIDAY:
            return self.holiday_name
        return str(self.get_kind_display())

    @property
    def holiday_name(self) -> str:
        """The holiday's name from the calendar (translated for the seeded ones), or its code. Lists
        annotate `holiday_label` (one query for the page); a single row looks it up."""
        from django.utils.translation import gettext

        from members.models import SEED_HOLIDAY_NAMES, Holiday

        if not self.holiday:
            return ""
        name = getattr(self, "holiday_label", None)
        if name is None:
            name = Holiday.objects.filter(code=self.holiday).values_list("name", flat=True).first()
        if not name:
            return self.holiday
        return gettext(name) if name in SEED_HOLIDAY_NAMES else name


class AutomationOccurrence(models.Model):
    """One occurrence of an automation's trigger and the campaign step its messages belong to."""

    automation = models.ForeignKey(
        Automation, verbose_name=_("automation"), on_delete=models.CASCADE, related_name="occurrences"
    )
    key = models.CharField(
        _("occurrence"), max_length=20, help_text=_("The year, month or day this occurrence stands for.")
    )
    on = models.DateField(
        _("date"), null=True, blank=True, help_text=_("The holiday, the first day of the expiry month, or the day.")
    )
    step = models.OneToOneField(
        CampaignStep, verbose_name=_("step"), on_delete=models.PROTECT, related_name="occurrence"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("automation occurrence")
        verbose_name_plural = _("automation occurrences")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "key"], name="campaigns_occurrence_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.automation} · {self.key}"


# --- offers, tracking and results (issue 6, "Campaigns" offers + pilot, and "Results") ----------
