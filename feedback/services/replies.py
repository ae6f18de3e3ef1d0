"""Replies going out: sending a recorded reply after commit, retrying a failed one, recording a call.

A reply is recorded by `workflow` (the `TicketEvent` and its `ReplyDelivery`, status pending or
not sendable) inside the ticket's transaction; sending starts only after that commits
(`transaction.on_commit`), so a slow provider never holds the ticket's row lock. The delivery is
claimed first (pending → sending, committed), then sent, then its outcome recorded with the
ticket locked: sent (with the provider's id; the first one stamps `first_response_at` with the
time it was sent), failed (the provider's code and reason) or in doubt (the answer was lost —
never re-sent). A reply is therefore sent successfully at most once, and `first_response_at`
means a customer really got an answer — or staff recorded a call (`record_call`).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.channels.base import ChannelError, ChannelInDoubt
from feedback import delivery as channels
from feedback.event_texts import EventText
from feedback.models import ReplyDelivery, Ticket, TicketEvent
from feedback.services._common import _user, log
from feedback.services.errors import NoChannel, ReplyNotRetryable

D = ReplyDelivery.Status
MAX_CALL_NOTE = 500
# A call's time may be this far ahead of the server's clock (a phone's clock running fast).
CALL_CLOCK_SKEW = datetime.timedelta(minutes=2)
# A delivery still "sending" this long after its claim lost its worker: reported in doubt.
SENDING_LEASE = datetime.timedelta(minutes=10)


def check_reply_channel(ticket: Ticket, *, record_only: bool) -> str | None:
    """The channel a reply to `ticket` will take; raises `NoChannel` when there is none and the
    caller did not ask to record the reply only."""
    channel = channels.reply_channel(ticket)
    if channel is None and not record_only:
        raise NoChannel(
            _(
                "No channel can deliver this reply: the ticket has no email address, no phone and no bound "
                "WeChat account. Record a call instead, or record the reply without sending it."
            )
        )
    return channel


def record_reply(locked: Ticket, *, body: str, actor, channel: str | None) -> TicketEvent:
    """Write the reply and its delivery (the ticket is locked by the caller) and send it after commit.
    `first_response_at` is not touched here: only a reply really sent stamps it."""
    locked.save(update_fields=["updated_at"])
    event = TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.REPLY, body=body, actor=_user(actor))
    delivery = ReplyDelivery.objects.create(
        event=event, ticket=locked, channel=channel or "", status=D.PENDING if channel else D.NOT_SENDABLE
    )
    if channel:
        delivery_id = delivery.pk
        transaction.on_commit(lambda: deliver_reply(delivery_id=delivery_id))
    return event


def _claim(delivery_id: int) -> ReplyDelivery | None:
    with transaction.atomic():
        claimed = (
            ReplyDelivery.objects.select_for_update(of=("self",))
            .select_related("event", "ticket__member")
            .filter(pk=delivery_id, status=D.PENDING)
            .first()
        )
        if claimed is None:
            return None
        claimed.status = D.SENDING
        claimed.attempts += 1  # under the row lock
        claimed.save(update_fields=["status", "attempts", "updated_at"])
        return claimed


@transaction.atomic
def _record_outcome(claimed: ReplyDelivery, *, status: str, provider_ref: str = "", code: str = "", reason: str = ""):
    ticket = Ticket.objects.select_for_update().get(pk=claimed.ticket_id)  # ticket, then delivery: one lock order
    locked = ReplyDelivery.objects.select_for_update().get(pk=claimed.pk)
    if locked.status != D.SENDING:  # reported in doubt by the sweep meanwhile: keep what it said
        return locked
    now = timezone.now()
    locked.status = status
    locked.provider_ref = (provider_ref or "")[:100]
    locked.error_code = (code or "")[:64]
    locked.error_reason = (reason or "")[:500]
    fields = ["status", "provider_ref", "error_code", "error_reason", "updated_at"]
    if status == D.SENT:
        locked.sent_at = now
        fields.append("sent_at")
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            ticket.save(update_fields=["first_response_at", "updated_at"])
    locked.save(update_fields=fields)
    return locked


def deliver_reply(*, delivery_id: int) -> ReplyDelivery | None:
    """Send one pending reply and record what the provider said. Safe to call twice or side by
    side: only the caller that claims the pending delivery sends it. Never raises for a provider's
    answer (the outcome is recorded instead)."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return None
    try:
        provider_ref = channels.send_reply(
            channel=claimed.channel,
            ticket=claimed.ticket,
            body=claimed.event.body,
            at=claimed.event.at,
            reference=claimed.reference,
        )
    except ChannelInDoubt as error:
        log.warning("Reply %s in doubt: %s", claimed.reference, error.code)
        return _record_outcome(claimed, status=D.IN_DOUBT, code=error.code, reason=error.reason)
    except ChannelError as error:
        log.warning("Reply %s not sent: %s", claimed.reference, error.code)
        return _record_outcome(claimed, status=D.FAILED, code=error.code, reason=error.reason)
    except Exception as error:  # an unexpected error may come after the request went out: in doubt
        log.exception("Reply %s: unexpected error while sending (%s)", claimed.reference, type(error).__name__)
        return _record_outcome(
            claimed,
            status=D.IN_DOUBT,
            code=type(error).__name__,
            reason=_("Unexpected error while sending; the reply may or may not have gone out."),
        )
    return _record_outcome(claimed, status=D.SENT, provider_ref=str(provider_ref or ""))


@transaction.atomic
def retry_reply(*, delivery: ReplyDelivery, actor) -> ReplyDelivery:
    """Send a failed reply again (on the channel it was recorded for), after commit. Anything but a
    failed delivery raises `ReplyNotRetryable`: a sent reply went out, an in-doubt one may have."""
    Ticket.objects.select_for_update().get(pk=delivery.ticket_id)
    locked = ReplyDelivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.status != D.FAILED:
        raise ReplyNotRetryable(
            _("Only a reply whose sending failed can be sent again; this one is “%(status)s”.")
            % {"status": locked.get_status_display()}
        )
    TicketEvent.objects.create(
        ticket_id=locked.ticket_id,
        kind=TicketEvent.Kind.UPDATE,
        body_code=EventText.REPLY_RETRIED,
        body_params={"code": locked.error_code},
        actor=_user(actor),
    )
    locked.status = D.PENDING
    locked.save(update_fields=["status", "updated_at"])
    delivery_id = locked.pk
    transaction.on_commit(lambda: deliver_reply(delivery_id=delivery_id))
    delivery.status = locked.status
    return locked


@transaction.atomic
def record_call(*, ticket: Ticket, actor, called_at: datetime.datetime | None = None, note: str = "") -> TicketEvent:
    """Staff called the customer: a "Phone call" history entry at the call's time with a short
    note. The call is a first response: it stamps `first_response_at` with the call's time when
    there was none or the call came earlier."""
    now = timezone.now()
    called_at = called_at or now
    note = (note or "").strip()
    if timezone.is_naive(called_at):
        raise ValidationError({"called_at": [_("Give the call's time with its time zone.")]})
    if called_at > now + CALL_CLOCK_SKEW:
        raise ValidationError({"called_at": [_("The call's time cannot be in the future.")]})
    if len(note) > MAX_CALL_NOTE:
        message = _("Keep the note to %(max)d characters (it has %(n)d).") % {"max": MAX_CALL_NOTE, "n": len(note)}
        raise ValidationError({"note": [message]})
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    contacted_at = locked.contacted_at or locked.created_at
    if called_at < contacted_at:
        raise ValidationError(
            {
                "called_at": [
                    _("The call cannot be before the customer reached us (%(created)s).")
                    % {"created": timezone.localtime(contacted_at).strftime("%Y-%m-%d %H:%M")}
                ]
            }
        )
    fields = ["updated_at"]
    if locked.first_response_at is None or called_at < locked.first_response_at:
        locked.first_response_at = called_at
        fields.append("first_response_at")
    locked.save(update_fields=fields)
    event = TicketEvent.objects.create(
        ticket=locked, kind=TicketEvent.Kind.CALL, body=note, actor=_user(actor), at=called_at
    )
    ticket.first_response_at, ticket.updated_at = locked.first_response_at, locked.updated_at
    return event


def send_stalled_replies(*, older_than: datetime.timedelta = datetime.timedelta(minutes=1)) -> dict[str, int]:
    """The safety net (beat task `feedback.send_pending_replies`): a reply still pending a while
    after it was recorded (the process died between commit and sending) is sent now; one still
    "sending" past `SENDING_LEASE` lost its worker mid-send and is reported in doubt, never re-sent."""
    now = timezone.now()
    stale = ReplyDelivery.objects.filter(status=D.SENDING, updated_at__lt=now - SENDING_LEASE)
    in_doubt = stale.update(
        status=D.IN_DOUBT,
        error_code="lease_expired",
        error_reason=_("The sender stopped while sending; the reply may or may not have gone out."),
        updated_at=now,
    )
    sent = 0
    pending = ReplyDelivery.objects.filter(status=D.PENDING, updated_at__lt=now - older_than).order_by("pk")
    for delivery_id in list(pending.values_list("pk", flat=True)[:500]):
        done = deliver_reply(delivery_id=delivery_id)
        sent += bool(done is not None and done.status == D.SENT)
    return {"in_doubt": in_doubt, "sent": sent}
