"""Customer feedback tickets, their history and their photos.

Contact data on a ticket (name, phone, email) is encrypted at rest like a member's; the phone
also carries a keyed lookup hash so support can find a caller's tickets. Workflows live in
`feedback.services`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="feedback_ticket_status")]

    def __str__(self) -> str:
        return f"{self.ticket_no} · {self.get_kind_display()}"


class TicketEvent(models.Model):
    """Append-only history of a ticket: status changes, internal notes and replies to the customer."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATE = "update", _("Update")
        STATUS_CHANGE = "status_change", _("Status change")
        INTERNAL_NOTE = "internal_note", _("Internal note")
        REPLY = "reply", _("Reply to customer")

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_status = models.CharField(_("from status"), max_length=10, choices=Ticket.Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=10, choices=Ticket.Status.choices, blank=True)
    body = models.TextField(_("text"), blank=True)
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
