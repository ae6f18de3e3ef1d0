"""Dispatch: campaigns, their steps and occurrences, the outbox, the SMS log and the contact policy."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models.segments import Segment
from loyalty_crm.fields import EncryptedTextField
from members.models import TimeStamped


class Channel(models.TextChoices):
    """The channels a message goes out on (an outbox row's channel)."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class CampaignChannel(models.TextChoices):
    """A campaign's channel: one of `Channel`, or each member's best channel, resolved per member
    when the outbox is filled (`campaigns.rules.best_channel`)."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    BEST = "best", _("Best channel for each member")


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
    channel = models.CharField(_("channel"), max_length=10, choices=CampaignChannel.choices)
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
        blank=True,
        help_text=_(
            "A template: {{ member.name }}, {{ member.member_no }}, {{ points_balance }} and {{ tier }} "
            "are filled in for each member. SMS and WeChat with a message template send the template instead."
        ),
    )
    message_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        verbose_name=_("message template"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text=_(
            "The provider-approved SMS or WeChat template this campaign sends (required for WeChat, "
            "and for SMS through a real provider)."
        ),
    )
    survey = models.ForeignKey(
        "feedback.Survey",
        verbose_name=_("survey"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text=_("The questionnaire {{ survey_link }} opens: a personal, single-use link for each member."),
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
    NOTHING_TO_REMIND = "nothing_to_remind", _("Nothing left to remind of")


class OutboxMessage(models.Model):
    """One message to one member for one campaign step: the unit of "exactly once".

    pending (possibly leased by a worker) → sending (committed before the channel is called)
    → sent | failed; or skipped (with a reason). A `sending` row whose lease expires becomes
    `in_doubt` and is never sent again. A provider's delivery receipt then turns `sent` into
    `delivered` or `undelivered` (`campaigns.services.receipts`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        IN_DOUBT = "in_doubt", _("In doubt")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")

    # The provider accepted these (a receipt may since have said whether they arrived).
    ACCEPTED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)

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
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(_("skip reason"), max_length=20, choices=SkipReason.choices, blank=True)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    lease_owner = models.CharField(_("leased by"), max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Sends the provider refused with a temporary error (throttled, busy): retried with backoff
    # until CAMPAIGN_MAX_SEND_ATTEMPTS tries in all.
    retries = models.PositiveSmallIntegerField(_("retries"), default=0)
    sending_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    # The provider's own code for a refusal or a failed delivery (e.g. isv.MOBILE_NUMBER_ILLEGAL).
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
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
            # Messages handed to a channel on a day (the daily budget, the marketing home page).
            models.Index(fields=["sending_at"], name="campaigns_outbox_sending_at"),
            models.Index(fields=["member", "sending_at"], name="campaigns_outbox_member_sent"),
            models.Index(
                fields=["channel", "provider_ref"],
                condition=~models.Q(provider_ref=""),
                name="campaigns_outbox_provider_ref",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.step_id} → {self.member_id}: {self.status}"


BUDGET_HELP = _("At most this many per day (Asia/Shanghai); 0: no limit.")


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
    wechat_rate = models.PositiveIntegerField(_("WeChat send rate (per second)"), default=20)
    email_daily_budget = models.PositiveIntegerField(
        _("email daily budget (messages)"), default=0, help_text=BUDGET_HELP
    )
    sms_daily_budget = models.PositiveIntegerField(_("SMS daily budget (messages)"), default=0, help_text=BUDGET_HELP)
    wechat_daily_budget = models.PositiveIntegerField(
        _("WeChat daily budget (messages)"), default=0, help_text=BUDGET_HELP
    )
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
                    frequency_cap_messages__gte=1,
                    frequency_cap_days__gte=1,
                    email_rate__gte=1,
                    sms_rate__gte=1,
                    wechat_rate__gte=1,
                ),
                name="campaigns_contactpolicy_positive",
                violation_error_message=_("The frequency cap and the send rates must be at least 1."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Contact policy"))

    def rate_for(self, channel: str) -> int:
        return {Channel.EMAIL: self.email_rate, Channel.WECHAT: self.wechat_rate}.get(channel, self.sms_rate)

    def daily_budget_for(self, channel: str) -> int:
        """Messages per day on `channel` (0: no limit)."""
        return {
            Channel.EMAIL: self.email_daily_budget,
            Channel.SMS: self.sms_daily_budget,
            Channel.WECHAT: self.wechat_daily_budget,
        }.get(channel, 0)

    @classmethod
    def load(cls) -> ContactPolicy:
        """The single row (a data migration makes it); made again with the documented defaults
        if it was deleted, like the other settings singletons' loaders."""
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class EarlyReceipt(models.Model):
    """A delivery receipt for a provider reference no outbox message holds (yet).

    The provider may answer the worker and report delivery before the worker has stored the
    provider's message id; the receipt waits here and is applied when the id is stored
    (`campaigns.services.receipts.apply_early_receipts`, right after a send and every minute).
    Receipts nobody claims (another system's messages) are deleted after a few days.
    """

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    provider_ref = models.CharField(_("provider reference"), max_length=100)
    delivered = models.BooleanField(_("delivered"))
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("early delivery receipt")
        verbose_name_plural = _("early delivery receipts")
        constraints = [
            models.UniqueConstraint(fields=["channel", "provider_ref"], name="campaigns_earlyreceipt_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.provider_ref}"


class SmsLog(models.Model):
    """Text messages "sent" by the development SMS provider (`SMS_PROVIDER`'s default)."""

    phone = EncryptedTextField(_("phone"))
    text = models.TextField(_("text"))
    reference = models.CharField(pgettext_lazy("sms", "reference"), max_length=100, db_index=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS log entry")
        verbose_name_plural = _("SMS log")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.reference


class WeChatLog(models.Model):
    """WeChat template messages "sent" by the development WeChat provider (`WECHAT_PROVIDER=log`)."""

    openid = models.CharField(_("WeChat openid"), max_length=64, db_index=True)
    template_id = models.CharField(pgettext_lazy("wechat", "template ID"), max_length=100)
    params = models.JSONField(pgettext_lazy("wechat", "template fields"), default=dict, blank=True)
    text = models.TextField(_("text"), blank=True)
    url = models.CharField(pgettext_lazy("wechat", "link"), max_length=500, blank=True)
    reference = models.CharField(pgettext_lazy("wechat", "reference"), max_length=100, db_index=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeChat log entry")
        verbose_name_plural = _("WeChat log")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.reference


# --- classification and segment sizes (issue 6, "Segments and classification") -----------------
