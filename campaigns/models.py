"""Segments, classification, campaigns and the contact policy.

`campaigns` reads `members` and `rewards` and changes points only through `rewards.services`
(docs/design.md: members ← rewards ← campaigns).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_crm.fields import EncryptedTextField
from members.models import Member, TimeStamped


class Segment(TimeStamped):
    """A saved set of rules (ANDed; an absent key means any) that picks members.

    The rule keys are docs/api.md's: classification, tiers, stores, tags, min_spend_12m,
    last_purchase_after, last_purchase_before, birthday_month, consented_channel.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # The last count of members (by `campaigns.segments.refresh_segment_sizes`, on save and nightly),
    # so lists show sizes without evaluating every segment's rules.
    size = models.PositiveIntegerField(_("size"), null=True, blank=True, editable=False)
    size_computed_at = models.DateTimeField(_("counted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        permissions = [("export_segment", _("Can export a segment's members"))]

    def __str__(self) -> str:
        return self.name


# --- campaigns and dispatch -----------------------------------------------------------------


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class Repeat(models.TextChoices):
    """How often a campaign is sent: once, or on a schedule (`campaigns.recurrence`)."""

    ONCE = "once", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class Weekday(models.IntegerChoices):
    """ISO weekday numbers (1 = Monday … 7 = Sunday)."""

    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")
    SUNDAY = 7, _("Sunday")


class CampaignQuerySet(models.QuerySet):
    def due(self, now):
        """One-off campaigns whose start time has come (a recurring one is started by its beat entry)."""
        return self.filter(status=Campaign.Status.SCHEDULED, start_at__lte=now, repeat=Repeat.ONCE)


class Campaign(TimeStamped):
    """A message sent to an audience (a segment, or every member) on one channel: once, or on a
    schedule (daily, weekly, monthly; `campaigns.services.recurring`), each run a new step.

    Its lifecycle — draft → scheduled → sending → completed, or cancelled — changes only
    through `campaigns.services.campaigns`; the sending itself lives in the outbox.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=150)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="zh-hans",
        help_text=_("Language of the message (the tier name is written in it)."),
    )
    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("Email only. A template like the body.")
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "A template: {{ member.name }}, {{ member.member_no }}, {{ points_balance }} and {{ tier }} "
            "are filled in for each member."
        ),
    )
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text=_("Leave empty to send to every member."),
    )
    start_at = models.DateTimeField(
        _("start at"), null=True, blank=True, help_text=_("Leave empty to start as soon as it is launched.")
    )
    end_at = models.DateTimeField(
        _("send until"),
        null=True,
        blank=True,
        help_text=_(
            "Optional. A message that quiet hours hold back beyond this time is dropped "
            "(counted as skipped for quiet hours) instead of waiting."
        ),
    )
    control_group_pct = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=0,
        help_text=_("Share of the audience held back at random (receives nothing), for measuring lift."),
    )
    # The schedule of a recurring campaign (local time of TIME_ZONE, Asia/Shanghai); django-celery-beat
    # runs it through `periodic_task` once launched.
    repeat = models.CharField(
        _("repeats"),
        max_length=10,
        choices=Repeat.choices,
        default=Repeat.ONCE,
        help_text=_("Once, or again every day, week or month: each run re-reads the segment's members."),
    )
    repeat_time = models.TimeField(
        _("at (time of day)"),
        null=True,
        blank=True,
        help_text=_("Recurring only: the time each run sends, e.g. 10:00."),
    )
    repeat_weekday = models.PositiveSmallIntegerField(
        _("on weekday"), null=True, blank=True, choices=Weekday.choices, help_text=_("Weekly only.")
    )
    repeat_day = models.PositiveSmallIntegerField(
        _("on day of the month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Monthly only: 1 to 28, so that every month has the day."),
    )
    repeat_until = models.DateField(
        _("repeat until"),
        null=True,
        blank=True,
        help_text=_("Recurring only, optional: the last day a run may happen; then the campaign completes."),
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        verbose_name=_("beat entry"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started sending at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        permissions = [("launch_campaign", _("Can launch and cancel campaigns"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(control_group_pct__lte=90),
                name="campaigns_campaign_control_group_pct_range",
                # xgettext:no-python-format
                violation_error_message=_("The control group can be at most 90% of the audience."),
            ),
            models.CheckConstraint(
                condition=Q(repeat_day__isnull=True) | Q(repeat_day__gte=1, repeat_day__lte=28),
                name="campaigns_campaign_repeat_day_range",
            ),
            models.CheckConstraint(
                condition=Q(repeat_weekday__isnull=True) | Q(repeat_weekday__gte=1, repeat_weekday__lte=7),
                name="campaigns_campaign_repeat_weekday_range",
            ),
            models.CheckConstraint(
                condition=Q(repeat="once") | Q(repeat_time__isnull=False),
                name="campaigns_campaign_recurring_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "start_at"], name="campaigns_campaign_due")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return self.repeat != Repeat.ONCE


class CampaignStep(models.Model):
    """One message of a campaign. A one-off campaign has step 1; a pilot's expansion, each run of a
    recurring campaign and each occurrence of an automation add later steps.

    The outbox holds one row per (step, member), which is what makes a repeat impossible.
    """

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveSmallIntegerField(_("step"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="campaigns_step_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.number}"


class CampaignOccurrence(models.Model):
    """One run of a recurring campaign: the local day it stands for and its own campaign step.

    Unique per (campaign, day), so a second beat tick or a re-run of the same day adds nothing.
    """

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="occurrences"
    )
    on = models.DateField(_("day"), help_text=_("The local day of this run."))
    step = models.OneToOneField(
        CampaignStep, verbose_name=_("step"), on_delete=models.PROTECT, related_name="campaign_occurrence"
    )
    ran_at = models.DateTimeField(_("ran at"), help_text=_("When the audience was resolved for this run."))

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["campaign", "-on"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "on"], name="campaigns_occurrence_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.on.isoformat()}"


class SkipReason(models.TextChoices):
    NO_CONSENT = "no_consent", _("No marketing consent")
    OPTED_OUT = "opted_out", _("Opted out")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    QUIET_HOURS = "quiet_hours", _("Quiet hours until the campaign ended")
    CONTROL_GROUP = "control_group", _("Control group")
    CANCELLED = "cancelled", _("Campaign cancelled")


class OutboxMessage(models.Model):
    """One message to one member for one campaign step: the unit of "exactly once".

    pending (possibly leased by a worker) → sending (committed before the channel is called)
    → sent | failed; or skipped (with a reason). A `sending` row whose lease expires becomes
    `in_doubt` and is never sent again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        IN_DOUBT = "in_doubt", _("In doubt")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="outbox_messages"
    )
    step = models.ForeignKey(
        CampaignStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="outbox_messages"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="campaign_messages"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(_("skip reason"), max_length=20, choices=SkipReason.choices, blank=True)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    lease_owner = models.CharField(_("leased by"), max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sending_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["step", "member"], name="campaigns_outbox_once_per_step_member"),
        ]
        indexes = [
            models.Index(
                fields=["not_before", "id"],
                condition=models.Q(status="pending"),
                name="campaigns_outbox_pending",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="campaigns_outbox_leases",
            ),
            models.Index(fields=["campaign", "status"], name="campaigns_outbox_campaign"),
            models.Index(fields=["member", "sending_at"], name="campaigns_outbox_member_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.step_id} → {self.member_id}: {self.status}"


class ContactPolicy(models.Model):
    """The one row of rules that keep marketing from over-contacting anyone (docs/design.md)."""

    quiet_hours_start = models.TimeField(
        _("quiet hours start"),
        null=True,
        blank=True,
        default=datetime.time(21, 0),
        help_text=_("Leave both empty for no quiet hours."),
    )
    quiet_hours_end = models.TimeField(_("quiet hours end"), null=True, blank=True, default=datetime.time(9, 0))
    timezone = models.CharField(_("time zone of quiet hours"), max_length=50, default="Asia/Shanghai")
    frequency_cap_messages = models.PositiveIntegerField(
        _("frequency cap: messages"), default=4, help_text=_("At most this many marketing messages per member…")
    )
    frequency_cap_days = models.PositiveIntegerField(
        _("frequency cap: days"), default=30, help_text=_("…within this many days, across all campaigns.")
    )
    email_rate = models.PositiveIntegerField(_("email send rate (per second)"), default=20)
    sms_rate = models.PositiveIntegerField(_("SMS send rate (per second)"), default=10)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contact policy")
        verbose_name_plural = _("contact policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="campaigns_contactpolicy_singleton"),
            models.CheckConstraint(
                condition=(
                    models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                    | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False)
                ),
                name="campaigns_contactpolicy_quiet_hours_both",
                violation_error_message=_("Give both the start and the end of quiet hours, or neither."),
            ),
            models.CheckConstraint(
                condition=models.Q(
                    frequency_cap_messages__gte=1, frequency_cap_days__gte=1, email_rate__gte=1, sms_rate__gte=1
                ),
                name="campaigns_contactpolicy_positive",
                violation_error_message=_("The frequency cap and the send rates must be at least 1."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Contact policy"))

    def rate_for(self, channel: str) -> int:
        return self.email_rate if channel == Channel.EMAIL else self.sms_rate


class SmsLog(models.Model):
    """Text messages "sent" by the development SMS provider (`SMS_PROVIDER`'s default)."""

    phone = EncryptedTextField(_("phone"))
    text = models.TextField(_("text"))
    reference = models.CharField(_("reference"), max_length=100, db_index=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS log entry")
        verbose_name_plural = _("SMS log")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.reference


# --- classification and segment sizes (issue 6, "Segments and classification") -----------------


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
    """One row per member, rewritten by each classification run (`campaigns.classification`).

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
# Added by the `referral` branch. The services are in campaigns/referrals.py.


class ReferralProgramme(TimeStamped):
    """The referral programme's settings: one row (pk 1), edited in the admin.

    When a referred member's first purchase is posted, both members get their reward once
    (campaigns.referrals.reward_referral). Points go through rewards' services: the "Referral"
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
# Added by the `referral` branch. The services are in campaigns/partners.py.


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


class Automation(TimeStamped):
    """A campaign sent by a trigger instead of by hand (`campaigns.automations`).

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

    class Holiday(models.TextChoices):
        SPRING_FESTIVAL = "spring_festival", _("Spring Festival")
        VALENTINES = "valentines", _("Valentine's Day")
        QIXI = "qixi", _("Qixi Festival")
        MOTHERS_DAY = "mothers_day", _("Mother's Day")
        MID_AUTUMN = "mid_autumn", _("Mid-Autumn Festival")

    # Created with the default message when the automation is first configured (so an automation
    # never switched on leaves no campaign in the campaign list).
    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="automation",
    )  # fmt: skip
    kind = models.CharField(_("trigger"), max_length=20, choices=Kind.choices)
    holiday = models.CharField(_("holiday"), max_length=20, choices=Holiday.choices, blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=False)
    days_before = models.PositiveSmallIntegerField(
        _("days"),
        default=0,
        validators=[MaxValueValidator(90)],
        help_text=_(
            "Birthday, points expiry, holiday: how many days before the date the message goes out. "
            "Win-back: how many days after becoming lapsed a member is still greeted. "
            "Welcome follow-up: how many days after sign-up it goes out. "
            "Satisfaction survey: how many days after the ticket was resolved it goes out."
        ),
    )
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
            return str(self.get_holiday_display())
        return str(self.get_kind_display())


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
        OutboxMessage, verbose_name=_("message"), on_delete=models.CASCADE, related_name="offer_grant"
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
        OutboxMessage, verbose_name=_("message"), on_delete=models.CASCADE, primary_key=True, related_name="engagement"
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
