"""The channels a campaign message goes out on.

Email goes through Django's mail framework (`EmailMultiAlternatives`, text and HTML, with a
signed unsubscribe link and the List-Unsubscribe headers). SMS goes through the provider named by
the `SMS_PROVIDER` setting: `log` (`DatabaseSmsProvider`, only stores messages in `SmsLog`, for
development), `aliyun` (`campaigns.channels.aliyun`), `tencent` (`campaigns.channels.tencent`), or
a dotted path to a class with the `SmsProvider` interface (tests). Every provider takes a
`TemplateMessage` and answers the provider's message id, or raises `ChannelError` /
`ChannelInDoubt` (campaigns/channels/base.py).
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from campaigns.channels.base import (  # noqa: F401 (the interface)
    ChannelError,
    ChannelInDoubt,
    SmsProvider,
    TemplateMessage,
)
from campaigns.channels.log import DatabaseSmsProvider  # noqa: F401 (re-exported)
from campaigns.models import Channel
from campaigns.templating import RenderedMessage

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"

# SMS_PROVIDER's short names; anything else is a dotted path to a provider class.
SMS_PROVIDERS = {
    "log": "campaigns.channels.log.DatabaseSmsProvider",
    "aliyun": "campaigns.channels.aliyun.AliyunSmsProvider",
    "tencent": "campaigns.channels.tencent.TencentSmsProvider",
}


def sms_provider_path(name: str) -> str:
    return SMS_PROVIDERS.get(name, name)


@functools.cache
def _provider(path: str, settings_key: tuple) -> SmsProvider:
    # One instance per process and configuration: the real providers keep their SDK client (and
    # its keep-alive connections) between messages. `settings_key` makes a test that changes the
    # provider's settings get a fresh one.
    return import_string(path)()


_PROVIDER_SETTINGS = (
    "SMS_TIMEOUT_SECONDS",
    "ALIYUN_SMS_ACCESS_KEY_ID",
    "ALIYUN_SMS_ACCESS_KEY_SECRET",
    "ALIYUN_SMS_SIGN_NAME",
    "ALIYUN_SMS_ENDPOINT",
    "ALIYUN_SMS_PROTOCOL",
    "TENCENT_SMS_SECRET_ID",
    "TENCENT_SMS_SECRET_KEY",
    "TENCENT_SMS_SDK_APP_ID",
    "TENCENT_SMS_SIGN_NAME",
    "TENCENT_SMS_REGION",
    "TENCENT_SMS_ENDPOINT",
    "TENCENT_SMS_PROTOCOL",
)


def _settings_key() -> tuple:
    return tuple(getattr(settings, name, None) for name in _PROVIDER_SETTINGS)


def sms_provider() -> SmsProvider:
    return _provider(sms_provider_path(settings.SMS_PROVIDER), _settings_key())


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


def send_sms(*, phone: str, message: TemplateMessage, reference: str) -> str:
    """Send one SMS to `phone` (E.164, +8613800000000) through the configured provider; return the
    provider's message id. Raises ChannelError (refused; `temporary` when worth retrying later) or
    ChannelInDoubt (the answer was lost)."""
    return sms_provider().send(phone=phone, message=message, reference=reference)


def sms_batch_size() -> int:
    """How many SMS may share one provider call: SMS_BATCH_SIZE capped by the provider's own
    limit (`max_batch`); 1 when either says no (or the provider cannot batch)."""
    wanted = int(getattr(settings, "SMS_BATCH_SIZE", 1) or 1)
    if wanted <= 1:
        return 1
    try:
        provider = sms_provider()
    except Exception:  # a provider that cannot be set up fails each send the usual way
        return 1
    if not callable(getattr(provider, "send_batch", None)):
        return 1
    return max(1, min(wanted, int(getattr(provider, "max_batch", 1) or 1)))


def sms_batch_key(message: TemplateMessage):
    """The provider's grouping key for `message` (None: it goes out on its own)."""
    return sms_provider().batch_key(message)


def send_sms_batch(items: list[tuple[str, TemplateMessage, str]]) -> list[str | ChannelError]:
    """Send (phone, message, reference) items in one provider call (see `BatchSmsProvider`)."""
    return sms_provider().send_batch(items)


def send_otp(*, phone: str, code: str, reference: str) -> str:
    """Send a one-time sign-in code by SMS (the member centre). Not marketing: no consent needed,
    never logged in clear (the development log provider stores it so a developer can sign in).
    The template is `SMS_OTP_TEMPLATE_CODE` with the variable `code` (Tencent: `{1}`)."""
    text = _("Your verification code is %(code)s. It is valid for 5 minutes; do not share it.") % {"code": code}
    message = TemplateMessage(template_code=settings.SMS_OTP_TEMPLATE_CODE, params={"code": code}, text=text)
    return send_sms(phone=phone, message=message, reference=reference)
