"""How a reply to a customer goes out: the one channel it takes, and the sending itself.

`reply_channel(ticket)` chooses, in this order (docs/rules/feedback.md "Replies"):

1. **email** when the ticket has an email address;
2. **WeChat** when the ticket's member has a bound `wechat_openid` and WeChat is configured
   (`WECHAT_SERVICE_TEMPLATE_ID` set, `campaigns.channels.wechat` present and, with
   `WECHAT_PROVIDER=wechat`, the account's app ID and secret set);
3. **SMS** when the ticket has a phone;
4. none: nothing can deliver the reply (staff record a call instead).

A reply is a service message — it answers the customer's own request — so marketing consent
does not apply. SMS and WeChat go out as the provider-approved service template
(`SMS_SERVICE_TEMPLATE_CODE` with the variables `ticket` and `link`; `WECHAT_SERVICE_TEMPLATE_ID`
with the fields `ticket` and `time` and the link as the message's page): the reply's text is
never put into an SMS or a WeChat message, the customer reads it on the ticket's public page
(`ticket_link`), signed and expiring. Email carries the reply itself and the link.

This module sends and reads; it writes nothing (`feedback.services.replies` records outcomes).
"""

from __future__ import annotations

import importlib
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.channels.base import ChannelError, TemplateMessage
from feedback.models import ReplyDelivery, Ticket
from members.masking import mask_email

EMAIL, SMS, WECHAT = ReplyDelivery.Channel.EMAIL, ReplyDelivery.Channel.SMS, ReplyDelivery.Channel.WECHAT
TICKET_LINK_SALT = "feedback.ticket-page"


# --- the public link ---------------------------------------------------------------------------


def ticket_token(ticket_no: str) -> str:
    """A signed, timestamped token naming the ticket (its own salt: no other signed value of the
    site opens a ticket page)."""
    return signing.TimestampSigner(salt=TICKET_LINK_SALT).sign(ticket_no)


def read_ticket_token(token: str) -> str | None:
    """The ticket number of a valid, unexpired token; None when tampered with, expired or not ours."""
    max_age = settings.FEEDBACK_TICKET_LINK_MAX_AGE_DAYS * 24 * 60 * 60
    try:
        return signing.TimestampSigner(salt=TICKET_LINK_SALT).unsign(token, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        return None


def ticket_link(ticket: Ticket) -> str:
    from feedback.services._common import public_url

    return public_url(reverse("feedback:ticket_page", args=[ticket_token(ticket.ticket_no)]))


# --- choosing the channel ----------------------------------------------------------------------


def _wechat_sender():
    """`send_wechat` of `campaigns.channels.wechat` when WeChat is configured, else None."""
    if not getattr(settings, "WECHAT_SERVICE_TEMPLATE_ID", ""):
        return None
    try:
        module = importlib.import_module("campaigns.channels.wechat")
    except ImportError:
        return None
    # A real Official Account needs its app ID and secret; the development log provider does not.
    enabled = getattr(module, "wechat_enabled", None)
    if getattr(settings, "WECHAT_PROVIDER", "log") != "log" and callable(enabled) and not enabled():
        return None
    return getattr(module, "send_wechat", None)


def _openid(ticket: Ticket) -> str:
    member = ticket.member if ticket.member_id else None
    return (member.wechat_openid or "") if member is not None else ""


def reply_channel(ticket: Ticket) -> str | None:
    """ "email" | "wechat" | "sms" | None, in the documented order (module docstring)."""
    if ticket.email:
        return EMAIL
    if _openid(ticket) and _wechat_sender() is not None:
        return WECHAT
    if ticket.phone:
        return SMS
    return None


def describe_destination(ticket: Ticket) -> tuple[str | None, str]:
    """(channel, a sentence for staff saying where a reply will go — contact details masked)."""
    channel = reply_channel(ticket)
    if channel == EMAIL:
        return channel, _("Will be sent by email to %(address)s.") % {"address": mask_email(ticket.email)}
    if channel == WECHAT:
        return channel, _("Will be sent by WeChat to the member's bound account.")
    if channel == SMS:
        return channel, _("Will be sent by SMS to ···%(last4)s (a link to the reply, not its text).") % {
            "last4": ticket.phone[-4:]
        }
    return None, _("No channel can deliver this reply: record a call instead.")


# --- sending -----------------------------------------------------------------------------------


def send_sms(*, phone: str, message: TemplateMessage, reference: str) -> str:
    """Send through the SMS layer (`campaigns.channels.send_sms`)."""
    from campaigns import channels

    return channels.send_sms(phone=phone, message=message, reference=reference)


def _sms_message(ticket: Ticket, link: str) -> TemplateMessage:
    text = _("Your service ticket %(ticket)s has a new reply. Read it at %(link)s") % {
        "ticket": ticket.ticket_no,
        "link": link,
    }
    return TemplateMessage(
        template_code=settings.SMS_SERVICE_TEMPLATE_CODE,
        params={"ticket": ticket.ticket_no, "link": link},
        text=text,
    )


def _wechat_message(ticket: Ticket, link: str, at: datetime) -> TemplateMessage:
    when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
    text = _("Your service ticket %(ticket)s has a new reply (%(time)s).") % {"ticket": ticket.ticket_no, "time": when}
    return TemplateMessage(
        template_code=settings.WECHAT_SERVICE_TEMPLATE_ID,
        params={"ticket": ticket.ticket_no, "time": when},
        text=text,
        url=link,
    )


def _send_email(ticket: Ticket, *, body: str, link: str, reference: str) -> str:
    subject = _("Re: your feedback %(no)s") % {"no": ticket.ticket_no}
    text = (
        body
        + "\n\n-- \n"
        + _("Your ticket number: %(no)s") % {"no": ticket.ticket_no}
        + "\n"
        + _("All replies to your ticket: %(link)s") % {"link": link}
    )
    message = EmailMessage(subject=subject, body=text, to=[ticket.email], headers={"X-Ticket-Reference": reference})
    try:
        message.send(fail_silently=False)
    except Exception as error:  # SMTP and connection errors of any backend; no address in the reason
        raise ChannelError(
            type(error).__name__, _("The email could not be sent (%(error)s).") % {"error": type(error).__name__}
        ) from error
    return reference


def send_reply(*, channel: str, ticket: Ticket, body: str, at: datetime, reference: str) -> str:
    """Send one reply on `channel`; the provider's message id. Raises `ChannelError` (refused),
    `ChannelInDoubt` (answer lost)."""
    with translation.override(ticket.language or translation.get_language()):
        link = ticket_link(ticket)
        if channel == EMAIL:
            if not ticket.email:
                raise ChannelError("no_address", _("The ticket has no email address any more."))
            return _send_email(ticket, body=body, link=link, reference=reference)
        if channel == SMS:
            if not ticket.phone:
                raise ChannelError("no_address", _("The ticket has no phone number any more."))
            return send_sms(phone=ticket.phone, message=_sms_message(ticket, link), reference=reference)
        if channel == WECHAT:
            sender, openid = _wechat_sender(), _openid(ticket)
            if sender is None:
                raise ChannelError("not_configured", _("WeChat is not configured."))
            if not openid:
                raise ChannelError("no_address", _("The member has no bound WeChat account any more."))
            return sender(openid=openid, message=_wechat_message(ticket, link, at), reference=reference)
    raise ChannelError("no_channel", _("No channel can deliver this reply."))
