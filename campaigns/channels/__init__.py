"""The channels a campaign message goes out on.

Email goes through Django's mail framework (`EmailMultiAlternatives`, text and HTML, with a
signed unsubscribe link and the List-Unsubscribe headers). SMS goes through a provider named by
the `SMS_PROVIDER` setting (a dotted path to a class with the `SmsProvider` interface); the
default, `DatabaseSmsProvider`, only stores messages in `SmsLog` for development.
"""

from __future__ import annotations

import functools
from typing import Protocol

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage  # noqa: F401 (the interface)
from campaigns.models import Channel
from campaigns.templating import RenderedMessage

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"


class SmsProvider(Protocol):
    def send(self, *, phone: str, text: str, reference: str) -> str:
        """Send one text message; return the provider's message id. Raise ChannelError on refusal."""


class DatabaseSmsProvider:
    """Development provider: "sends" by storing the message in SmsLog (admin: SMS log)."""

    def send(self, *, phone: str, text: str, reference: str) -> str:
        from campaigns.services.sms_log import log_sms  # services import this module: import when used

        return f"db-{log_sms(phone=phone, text=text, reference=reference).pk}"


@functools.cache
def _provider_class(path: str):
    return import_string(path)


def sms_provider() -> SmsProvider:
    return _provider_class(settings.SMS_PROVIDER)()


# --- unsubscribe links -----------------------------------------------------------------------


def unsubscribe_token(*, member_no: str, channel: str) -> str:
    return signing.dumps({"m": member_no, "c": channel}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[str, str] | None:
    """(member_no, channel) of a valid token; None when it was tampered with or is not ours."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") not in Channel.values or not isinstance(data.get("m"), str):
        return None
    return data["m"], data["c"]


def unsubscribe_url(*, member_no: str, channel: str) -> str:
    path = reverse("campaigns:unsubscribe", args=[unsubscribe_token(member_no=member_no, channel=channel)])
    return settings.SITE_URL.rstrip("/") + path


# --- sending ---------------------------------------------------------------------------------


def send_email(*, address: str, message: RenderedMessage, member_no: str, reference: str) -> str:
    link = unsubscribe_url(member_no=member_no, channel=Channel.EMAIL)
    footer = _("To stop receiving these emails, open: %(link)s") % {"link": link}
    html_footer = '<p style="font-size:12px;color:#666"><a href="{}">{}</a></p>'.format(
        link, _("Unsubscribe from marketing emails")
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=f"{message.plain}\n\n--\n{footer}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Campaign-Reference": reference,
        },
    )
    email.attach_alternative(message.html + html_footer, "text/html")
    try:
        email.send(fail_silently=False)
    except Exception as exc:  # SMTP and backend errors: the message failed, say why (no addresses)
        raise ChannelError(type(exc).__name__) from exc
    return reference


def send_sms(*, phone: str, message: RenderedMessage, reference: str) -> str:
    return sms_provider().send(phone=phone, text=message.text, reference=reference)


def send_otp(*, phone: str, code: str, reference: str) -> str:
    """Send a one-time sign-in code by SMS (the member centre). Not marketing: no consent needed,
    never logged in clear (the development log provider stores it so a developer can sign in).
    The template is `SMS_OTP_TEMPLATE_CODE` with the variable `code`."""
    text = _("Your verification code is %(code)s. It is valid for 5 minutes; do not share it.") % {"code": code}
    message = TemplateMessage(template_code=settings.SMS_OTP_TEMPLATE_CODE, params={"code": code}, text=text)
    return sms_provider().send(phone=phone, text=message.text, reference=reference)
