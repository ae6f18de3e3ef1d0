"""Customer feedback tickets, their history and their photos.

Contact data on a ticket (name, phone, email) is encrypted at rest like a member's; the phone
also carries a keyed lookup hash so support can find a caller's tickets. Workflows live in
`feedback.services`.
"""

from __future__ import annotations

import datetime
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Value
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from feedback.event_texts import EventText
from feedback.event_texts import render as render_event_text
from loyalty_crm.fields import EncryptedTextField

# Crockford-like base32 without look-alike characters (0/O, 1/I/L): easy to read aloud on the phone.
TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TICKET_PREFIX = "FB-"
TICKET_RANDOM_LENGTH = 10  # 31**10 ≈ 8e14 numbers: enumerating others' tickets is hopeless.


def new_ticket_no() -> str:
    return TICKET_PREFIX + "".join(secrets.choice(TICKET_ALPHABET) for _i in range(TICKET_RANDOM_LENGTH))


class TicketQuerySet(models.QuerySet):
    def with_phone(self, phone: str):
        from members.normalize import phone_hashes

        hashes = phone_hashes(phone)
        return self.filter(phone_hash__in=hashes) if hashes else self.none()

    def unassigned(self):
        return self.filter(assignee__isnull=True)

    def assigned_to(self, user):
        return self.filter(assignee=user)

    def not_done(self):
        return self.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])

    def first_response_pending(self):
        return self.filter(first_response_at__isnull=True, first_response_due__isnull=False)

    def breached(self, now):
        """Open tickets past a target now: unanswered at or after the first-response due instant, or
        unresolved at or after the resolution one (`feedback.sla.breached_q`, whether or not the
        beat task has flagged them yet)."""
        from feedback import sla

        return self.not_done().filter(sla.breached_q(now))

    def about_to_breach(self, now):
        """Open tickets not yet breached whose next target falls within its warning window."""
        from feedback import sla

        return self.not_done().filter(sla.about_to_breach_q(now))

    def with_queue_due(self):
        """Annotate `queue_due` (as `Ticket.next_due()`): the due instant of the target each ticket
        works towards (the first response's while unanswered, then the resolution's), for ordering
        by time to breach."""
        return self.annotate(
            queue_due=models.Case(
                models.When(
                    first_response_at__isnull=True,
                    first_response_due__isnull=False,
                    then=models.F("first_response_due"),
                ),
                default=models.F("resolution_due"),
            )
        )


class Team(models.Model):
    """A support team: its lead hears about its tickets' breaches."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_feedback_teams",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="feedback_teams"
    )
    # Issue 19 (SLAs and priority): when the team works, and whether it is the member-service team.
    calendar = models.ForeignKey(
        "feedback.BusinessCalendar",
        verbose_name=_("business hours"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="teams",
        help_text=_("Empty: the team works round the clock and deadlines count every hour."),
    )
    serves_vip = models.BooleanField(
        _("member-service team"),
        default=False,
        help_text=_("Receives the tickets of members that a priority rule marks as VIP. At most one team."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["serves_vip"], condition=models.Q(serves_vip=True), name="feedback_team_one_vip_team"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        SUGGESTION = "suggestion", _("Suggestion")
        PRAISE = "praise", _("Praise")
        QUESTION = "question", _("Question")
        SERVICE_REQUEST = "service_request", _("Service request")

    class Channel(models.TextChoices):
        WEB = "web", _("Web form")
        API = "api", _("API")
        PHONE = "phone", _("Phone")
        STORE = "store", _("In store")
        WECHAT = "wechat", _("WeChat")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", pgettext_lazy("ticket status", "Open")
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    ticket_no = models.CharField(_("ticket number"), max_length=16, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL, db_index=True
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    message = models.TextField(_("message"))
    contact_name = EncryptedTextField(_("contact name"), blank=True, default="")
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False, db_index=True)
    email = EncryptedTextField(_("email"), blank=True, default="")
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    purchase = models.ForeignKey(
        "members.Purchase",
        verbose_name=_("purchase"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    store = models.ForeignKey(
        "members.Store",
        verbose_name=_("store"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True)
    language = models.CharField(
        _("language"), max_length=10, blank=True, help_text=_("The customer's language, used for replies.")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # When the customer first reached us (now for web forms and the API; staff enter it for a call
    # or a chat typed in afterwards). First-response and resolution targets count from here.
    contacted_at = models.DateTimeField(_("customer contacted us at"), default=timezone.now, db_index=True)
    # Why the ticket has its priority (the matching priority rules' names), shown in the queue.
    priority_reason = models.CharField(_("why prioritised"), max_length=200, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # Service-level targets, computed from the matching SlaTarget when the ticket is created and
    # again when its kind, channel or priority changes (feedback.sla). Empty: no target applies.
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True, db_index=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True, db_index=True)
    # When the "about to breach" queue picks the ticket up (the last part of each target).
    first_response_warn_at = models.DateTimeField(_("first response warning from"), null=True, blank=True)
    resolution_warn_at = models.DateTimeField(_("resolution warning from"), null=True, blank=True)
    # Set once by the beat task when a target is missed; the notification goes with it.
    first_response_breached_at = models.DateTimeField(_("first response breached at"), null=True, blank=True)
    resolution_breached_at = models.DateTimeField(_("resolution breached at"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="feedback_ticket_status"),
            # The open queue (not resolved or closed: `TicketQuerySet.not_done`) by SLA state and by
            # assignee, without reading the closed history (the support home page).
            models.Index(
                fields=["assignee", "first_response_due"],
                condition=~models.Q(status__in=["resolved", "closed"]),
                name="feedback_ticket_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_no} · {self.get_kind_display()}"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.RESOLVED, self.Status.CLOSED)

    def next_due(self):
        """(due, warn_at) of the target the ticket is working towards now, or (None, None)."""
        if self.is_done:
            return None, None
        if self.first_response_at is None and self.first_response_due is not None:
            return self.first_response_due, self.first_response_warn_at
        return self.resolution_due, self.resolution_warn_at


class TicketEvent(models.Model):
    """Append-only history of a ticket: status changes, internal notes and replies to the customer."""

    Text = EventText  # the codes of system-written texts (`feedback.event_texts`)

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATE = "update", _("Update")
        STATUS_CHANGE = "status_change", _("Status change")
        INTERNAL_NOTE = "internal_note", _("Internal note")
        REPLY = "reply", _("Reply to customer")
        SLA_BREACH = "sla_breach", _("Service level missed")
        SURVEY = "survey", _("Satisfaction survey")
        CALL = "call", _("Phone call")
        ANSWERED = "answered", _("Answered on contact")

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_status = models.CharField(_("from status"), max_length=10, choices=Ticket.Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=10, choices=Ticket.Status.choices, blank=True)
    # What the system wrote, as a code and its parameters, rendered in the reader's language
    # (`feedback.event_texts.render`); `body` keeps only what a person typed.
    body_code = models.CharField(
        _("text code"), max_length=32, choices=EventText.choices, default=EventText.NOTE, db_default=EventText.NOTE
    )
    body_params = models.JSONField(
        _("text parameters"), default=dict, blank=True, db_default=Value({}, output_field=models.JSONField())
    )
    body = models.TextField(_("text"), blank=True, help_text=_("What a person typed: a note, a reply, a comment."))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket history")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="feedback_event_ticket")]

    def __str__(self) -> str:
        if self.kind == self.Kind.STATUS_CHANGE:
            return f"{self.get_from_status_display()} → {self.get_to_status_display()}"
        return self.get_kind_display()

    @property
    def body_text(self) -> str:
        """The event's text in the active language (the code's sentence, then what was typed)."""
        return render_event_text(self.body_code, self.body_params, self.body)


class ReplyDelivery(models.Model):
    """How one reply to the customer went out: the channel chosen, what the provider said.

    The reply itself (a `TicketEvent` of kind REPLY) is append-only history; its delivery is the
    state that changes (pending → sending → sent | failed | in doubt), written only by
    `feedback.services.replies`. A reply is sent successfully at most once.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        WECHAT = "wechat", _("WeChat")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", pgettext_lazy("reply delivery", "Sending")
        SENT = "sent", pgettext_lazy("reply delivery", "Sent")
        FAILED = "failed", pgettext_lazy("reply delivery", "Failed")
        IN_DOUBT = "in_doubt", _("In doubt")
        NOT_SENDABLE = "not_sendable", _("Not sendable")

    event = models.OneToOneField(
        TicketEvent, verbose_name=_("reply"), on_delete=models.CASCADE, related_name="delivery"
    )
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="reply_deliveries"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, db_index=True)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_reason = models.CharField(_("error reason"), max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reply delivery")
        verbose_name_plural = _("reply deliveries")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
                name="feedback_replydelivery_sent_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(status="not_sendable") | ~models.Q(channel=""),
                name="feedback_replydelivery_channel_unless_not_sendable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display() or '—'} · {self.get_status_display()}"

    @property
    def reference(self) -> str:
        """The reference the provider is given (the same on a retry: a provider that de-duplicates
        on it never delivers twice)."""
        return f"ticket-reply-{self.pk}"


class Attachment(models.Model):
    """A customer's photo, re-encoded (no EXIF/GPS) and stored under a random name in MEDIA_ROOT."""

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to="feedback/", max_length=200)
    original_name = models.CharField(_("original name"), max_length=255, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    content_type = models.CharField(_("content type"), max_length=50)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or self.file.name


class SlaTarget(models.Model):
    """How fast a kind × channel × priority of ticket must be answered and resolved.

    A blank kind, channel or priority matches any; the target matching the most fields wins, and
    between equally specific targets the stricter one (shorter first response, then resolution).
    """

    kind = models.CharField(_("kind"), max_length=20, choices=Ticket.Kind.choices, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Ticket.Channel.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Ticket.Priority.choices, blank=True)
    first_response = models.DurationField(
        _("first response within"), help_text=_("For example 00:00:30 for 30 seconds, 04:00:00 for 4 hours.")
    )
    resolution = models.DurationField(
        _("resolution within"), help_text=_("For example 2 00:00:00 for 2 days, 08:00:00 for 8 hours.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service-level target")
        verbose_name_plural = _("service-level targets")
        ordering = ["kind", "channel", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel", "priority"], name="feedback_slatarget_unique"),
            models.CheckConstraint(
                condition=models.Q(first_response__gt=timedelta(0)) & models.Q(resolution__gt=timedelta(0)),
                name="feedback_slatarget_positive",
                violation_error_message=_("Targets must be longer than zero."),
            ),
        ]

    def __str__(self) -> str:
        anything = _("any")
        return " · ".join(
            str(label or anything)
            for label in (self.get_kind_display(), self.get_channel_display(), self.get_priority_display())
        )

    def specificity(self) -> int:
        return sum(1 for value in (self.kind, self.channel, self.priority) if value)

    def matches(self, *, kind: str, channel: str, priority: str) -> bool:
        return self.kind in ("", kind) and self.channel in ("", channel) and self.priority in ("", priority)


class SurveyResponse(models.Model):
    """One answer to a satisfaction survey. `token_id` is unique: each link records one answer."""

    class Kind(models.TextChoices):
        CSAT = "csat", _("Satisfaction (CSAT, 1–5)")
        NPS = "nps", _("Recommendation (NPS, 0–10)")
        FORM = "form", _("Designed survey")

    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    token_id = models.CharField(_("survey link"), max_length=80, unique=True, editable=False)
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    store = models.ForeignKey(
        "members.Store",
        verbose_name=_("store"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    channel = models.CharField(_("sent by"), max_length=10, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("answered at"), default=timezone.now, db_index=True)
    # Designed surveys (below): which survey and version was answered, through which link or by
    # which member of staff on the phone. The built-in CSAT and NPS answers point at their survey too.
    survey = models.ForeignKey(
        "feedback.Survey",
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="responses",
    )
    version = models.ForeignKey(
        "feedback.SurveyVersion",
        verbose_name=_("version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="responses",
    )
    link = models.OneToOneField(
        "feedback.SurveyLink",
        verbose_name=_("survey link"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="response",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="csat") & models.Q(score__gte=1) & models.Q(score__lte=5))
                | (models.Q(kind="nps") & models.Q(score__lte=10))
                | (models.Q(kind="form") & models.Q(score__isnull=True)),
                name="feedback_survey_score_range",
            ),
        ]
        indexes = [models.Index(fields=["survey", "created_at"], name="feedback_response_survey")]

    def __str__(self) -> str:
        if self.kind == self.Kind.FORM:
            return f"{self.survey} · {self.created_at:%Y-%m-%d}"
        return f"{self.get_kind_display()}: {self.score}"


class KpiTarget(models.Model):
    """A manager's target for a service KPI: an absolute value, or a change versus a baseline month."""

    class Metric(models.TextChoices):
        COMPLAINT_RATE = "complaint_rate", _("Complaint rate (per 100 purchases)")
        FIRST_RESPONSE = "first_response", _("Median first response (minutes)")
        RESOLUTION = "resolution", _("Median resolution (hours)")
        BREACH_RATE = "breach_rate", _("SLA breach rate (%)")
        CSAT = "csat", _("CSAT average (1–5)")
        NPS = "nps", _("NPS (−100 to 100)")

    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices)
    store = models.ForeignKey(
        "members.Store",
        verbose_name=_("store"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kpi_targets",
        help_text=_("Empty: all stores together."),
    )
    baseline_month = models.DateField(
        _("baseline month"), null=True, blank=True, help_text=_("Any day of the month the change is measured from.")
    )
    change_percent = models.DecimalField(
        _("change versus baseline (%)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        # xgettext:no-python-format
        help_text=_("For example −30 for a complaint rate 30% lower, 10 for a CSAT 10% higher."),
    )
    target_value = models.DecimalField(
        _("target value"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Instead of a change: the value to reach, in the metric's unit."),
    )
    due_month = models.DateField(_("reach by"), null=True, blank=True, help_text=_("Any day of the month."))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["metric", "store__name"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "store"], name="feedback_kpitarget_one_per_store"),
            models.UniqueConstraint(
                fields=["metric"],
                condition=models.Q(store__isnull=True),
                name="feedback_kpitarget_one_for_all",
            ),
            models.CheckConstraint(
                condition=models.Q(target_value__isnull=False)
                | (models.Q(baseline_month__isnull=False) & models.Q(change_percent__isnull=False)),
                name="feedback_kpitarget_value_or_change",
                violation_error_message=_("Give a target value, or a baseline month and a change."),
            ),
        ]

    def __str__(self) -> str:
        store = self.store or _("all stores")
        return f"{self.get_metric_display()} · {store}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.target_value is None and (self.baseline_month is None or self.change_percent is None):
            raise ValidationError(_("Give a target value, or a baseline month and a change."))
        if self.metric == self.Metric.NPS and self.change_percent is not None:
            raise ValidationError(
                {"change_percent": _("NPS can be negative, so a percentage change is unclear: give a target value.")}
            )
        if self.target_value is not None and self.change_percent is not None:
            raise ValidationError(
                {"target_value": _("Give either a target value or a change versus a baseline, not both.")}
            )
        if self.baseline_month:
            self.baseline_month = self.baseline_month.replace(day=1)
        if self.due_month:
            self.due_month = self.due_month.replace(day=1)


class ServiceKpi(KpiTarget):
    """Not a table: the admin's "Service KPIs" page hangs here, with its own view permission."""

    class Meta:
        proxy = True
        verbose_name = _("service KPIs")
        verbose_name_plural = _("service KPIs")
        default_permissions = ("view",)


# --- Issue 19, SLAs and priority: business hours and priority rules -------------------------------


def _validate_time_zone(value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from django.core.exceptions import ValidationError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(_("“%(value)s” is not a known time zone.") % {"value": value}) from error


def _validate_weekdays(value: str) -> None:
    from django.core.exceptions import ValidationError

    if not value or any(ch not in "1234567" for ch in value) or len(set(value)) != len(value):
        raise ValidationError(_("Give the working days as digits 1 (Monday) to 7 (Sunday), e.g. 12345."))


class BusinessCalendar(models.Model):
    """When a support team works: the same opening hours on chosen weekdays, in a time zone, closed
    on public holidays (`members.selectors.public_days_off`). Deadlines of the team's tickets
    count working time only (`feedback.sla.BusinessHours`)."""

    WEEKDAY_NAMES = {
        "1": _("Mon"), "2": _("Tue"), "3": _("Wed"), "4": _("Thu"), "5": _("Fri"), "6": _("Sat"), "7": _("Sun"),
    }  # fmt: skip

    name = models.CharField(_("name"), max_length=100, unique=True)
    weekdays = models.CharField(
        _("working days"),
        max_length=7,
        default="12345",
        validators=[_validate_weekdays],
        help_text=_("Digits 1 (Monday) to 7 (Sunday): 12345 for Monday to Friday, 1234567 for every day."),
    )
    opens_at = models.TimeField(_("opens at"), default=datetime.time(9, 0))
    closes_at = models.TimeField(_("closes at"), default=datetime.time(18, 0))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[_validate_time_zone]
    )
    observes_public_holidays = models.BooleanField(
        _("closed on public holidays"),
        default=True,
        help_text=_("The days off of the holiday calendar (Members → Holidays) do not count."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens_at__lt=models.F("closes_at")),
                name="feedback_calendar_opens_before_closing",
                violation_error_message=_("The team must open before it closes."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def weekdays_display(self) -> str:
        return " ".join(str(self.WEEKDAY_NAMES[d]) for d in sorted(self.weekdays) if d in self.WEEKDAY_NAMES)


# The seeded rules' names (feedback/migrations/0010), marked for the catalogue: a rule's name is
# stored as typed and translated when shown, so the seeded ones read "金卡会员" in Chinese.
SEED_RULE_NAMES = [
    gettext_noop("Diamond member"), gettext_noop("Gold member"), gettext_noop("High-value customer"),
    gettext_noop("Paid member"), gettext_noop("Suggestion"), gettext_noop("Praise"),
]  # fmt: skip
REASON_SEPARATOR = " · "


def reason_display(reason: str) -> str:
    """A ticket's stored `priority_reason` (rule names) in the reader's language."""
    from django.utils.translation import gettext

    return REASON_SEPARATOR.join(gettext(part) for part in reason.split(REASON_SEPARATOR) if part)


class PriorityRule(models.Model):
    """A manager's rule: tickets of customers who match get this priority, with the rule's name
    shown in the queue as the reason ("金卡会员", "高价值客户"). Every condition given must hold
    (a blank one matches anyone). A ticket gets the highest priority of the rules it matches;
    without any it is "normal". A VIP rule also routes the ticket to the member-service team."""

    name = models.CharField(
        _("reason shown"), max_length=60, help_text=_("Shown in the queue as why a ticket is prioritised.")
    )
    priority = models.CharField(_("priority"), max_length=10, choices=Ticket.Priority.choices)
    tier_code = models.CharField(_("tier"), max_length=32, blank=True, help_text=_("Empty: any tier."))
    classification = models.CharField(
        _("classification"), max_length=32, blank=True, help_text=_("Empty: any classification.")
    )
    paid_plan = models.BooleanField(
        _("with a paid membership"), default=False, help_text=_("Only members with a paid plan in force.")
    )
    kind = models.CharField(
        _("kind of ticket"), max_length=20, choices=Ticket.Kind.choices, blank=True, help_text=_("Empty: any kind.")
    )
    vip = models.BooleanField(
        _("VIP"), default=False, help_text=_("Send the ticket to the member-service team when one is set.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority rules")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(tier_code="", classification="", paid_plan=False, kind=""),
                name="feedback_priorityrule_has_condition",
                violation_error_message=_(
                    "Give at least one condition: a tier, a classification, a paid plan or a kind."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} → {self.get_priority_display()}"

    @property
    def display_name(self) -> str:
        from django.utils.translation import gettext

        return gettext(self.name)


# --- Designed surveys and ticket topics (issue 19: surveys we design, topics and analysis) ---------
# Workflows in `feedback.services.questionnaires` and `feedback.services.topics`; pure rules in
# `feedback.survey_rules` and `feedback.topic_rules`.

# The built-in surveys' and seeded topics' names are stored in English and translated when shown.
SEED_SURVEY_TEXTS = frozenset(
    {
        gettext_noop("Satisfaction after a ticket (CSAT)"),
        gettext_noop("Recommendation (NPS)"),
        gettext_noop("How satisfied are you with how we handled your feedback?"),
        gettext_noop("How likely are you to recommend us to a friend?"),
        gettext_noop("Anything you would like to add?"),
    }
)
SEED_TOPIC_NAMES = frozenset(
    {
        gettext_noop("Product quality"),
        gettext_noop("Delivery"),
        gettext_noop("Staff attitude"),
        gettext_noop("Price"),
        gettext_noop("Packaging"),
        gettext_noop("Membership and points"),
        gettext_noop("Store environment"),
    }
)


def _seeded(text: str, seeded: frozenset) -> str:
    return gettext(text) if text in seeded else text


class Survey(models.Model):
    """A questionnaire the shop designs: its questions are edited here; what customers answer is
    frozen as a `SurveyVersion` (a new version once the current one has answers)."""

    class Builtin(models.TextChoices):
        CSAT = "csat", _("CSAT after a ticket")
        NPS = "nps", _("NPS")

    name = models.CharField(_("name"), max_length=150)
    intro = models.TextField(_("introduction"), blank=True, help_text=_("Shown above the questions."))
    builtin = models.CharField(
        _("built-in"),
        max_length=4,
        choices=Builtin.choices,
        blank=True,
        editable=False,
        help_text=_("The CSAT and NPS surveys the ticket follow-up and the NPS automation send."),
    )
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive: its links are refused."))
    link_valid_days = models.PositiveSmallIntegerField(
        _("links valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("answer_survey_by_phone", _("Can enter a member's survey answers by phone")),
            ("view_survey_results", _("Can read survey results")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["builtin"], condition=~models.Q(builtin=""), name="feedback_survey_builtin")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return _seeded(self.name, SEED_SURVEY_TEXTS)


class SurveyQuestion(models.Model):
    """One question of a survey, editable; answers refer to it by `key` within a frozen version."""

    class Kind(models.TextChoices):
        NPS = "nps", _("Recommendation (NPS, 0–10)")
        CSAT = "csat", _("Satisfaction (CSAT, 1–5)")
        RATING = "rating", _("Rating scale (1 to N)")
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        TEXT = "text", _("Free text")

    class Operator(models.TextChoices):
        LTE = "lte", _("is at most")
        GTE = "gte", _("is at least")
        EQ = "eq", _("is")
        ANY = "any", _("is one of (separate with |)")

    survey = models.ForeignKey(Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    key = models.SlugField(
        pgettext_lazy("survey question", "key"),
        max_length=40,
        blank=True,
        help_text=_("A stable short name that keeps results together across versions; filled in when empty."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    text = models.CharField(_("question"), max_length=300)
    required = models.BooleanField(_("required"), default=True)
    choices = models.TextField(_("choices"), blank=True, help_text=_("Single and multiple choice: one per line."))
    scale_max = models.PositiveSmallIntegerField(
        _("scale up to"),
        default=5,
        validators=[MinValueValidator(2), MaxValueValidator(10)],
        help_text=_("Rating scale only: answers from 1 to this number."),
    )
    show_if_question = models.ForeignKey(
        "self",
        verbose_name=_("show only if question"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("An earlier question of this survey; empty: always shown."),
    )
    show_if_operator = models.CharField(_("condition"), max_length=3, choices=Operator.choices, blank=True)
    show_if_value = models.CharField(_("value"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "position", "id"]

    def __str__(self) -> str:
        return self.display_text

    @property
    def display_text(self) -> str:
        return _seeded(self.text, SEED_SURVEY_TEXTS)


class SurveyVersion(models.Model):
    """The questions of a survey as customers answered them (`definition`, see
    `feedback.survey_rules`). A version with answers is never changed."""

    survey = models.ForeignKey(Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("questions"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey version")
        verbose_name_plural = _("survey versions")
        ordering = ["survey", "-number"]
        constraints = [models.UniqueConstraint(fields=["survey", "number"], name="feedback_surveyversion_unique")]

    def __str__(self) -> str:
        return f"{self.survey} v{self.number}"


class SurveyLink(models.Model):
    """A personal link to a survey: signed, expiring, answered once (`used_at`)."""

    survey = models.ForeignKey(Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="links")
    version = models.ForeignKey(
        SurveyVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="links"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="survey_links"
    )
    nonce = models.CharField(max_length=32, unique=True, editable=False)
    channel = models.CharField(_("sent by"), max_length=10, blank=True)
    source = models.CharField(_("sent from"), max_length=40, blank=True, help_text=_("e.g. campaign:12"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("survey link")
        verbose_name_plural = _("survey links")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["survey", "created_at"], name="feedback_surveylink_survey")]

    def __str__(self) -> str:
        return f"{self.survey} · {self.created_at:%Y-%m-%d}"


class SurveyAnswer(models.Model):
    """One answer of a response: a number (NPS, CSAT, rating), a choice (one row per chosen
    option of a multiple choice) or a text."""

    response = models.ForeignKey(
        SurveyResponse, verbose_name=_("response"), on_delete=models.CASCADE, related_name="answers"
    )
    question_key = models.CharField(_("question"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=SurveyQuestion.Kind.choices)
    number = models.SmallIntegerField(_("number"), null=True, blank=True)
    choice = models.CharField(_("choice"), max_length=200, blank=True)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        ordering = ["response", "id"]
        indexes = [models.Index(fields=["question_key"], name="feedback_answer_key")]

    def __str__(self) -> str:
        return f"{self.question_key}: {self.number if self.number is not None else self.choice or self.text}"


class Topic(models.Model):
    """A managed tag for tickets (product quality, delivery…); its keywords suggest it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    keywords = models.TextField(
        _("keywords"),
        blank=True,
        help_text=_("Words or phrases, one per line or separated by commas (e.g. 枯萎, 不新鲜, wilted)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    tickets = models.ManyToManyField(
        Ticket, verbose_name=_("tickets"), through="TicketTopic", related_name="topics", blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return _seeded(self.name, SEED_TOPIC_NAMES)


class TicketTopic(models.Model):
    """A topic set on a ticket by staff (who, when)."""

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="ticket_topics")
    topic = models.ForeignKey(Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="ticket_topics")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("set at"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket topic")
        verbose_name_plural = _("ticket topics")
        ordering = ["ticket", "topic__name"]
        constraints = [models.UniqueConstraint(fields=["ticket", "topic"], name="feedback_tickettopic_unique")]

    def __str__(self) -> str:
        return str(self.topic)
