"""The one interface every sending provider implements (issue 14).

SMS in mainland China is sent as a provider-approved *template* (a code such as `SMS_123456789`
for Aliyun or `1234567` for Tencent) with a signature name and named variables, not as free
text; a WeChat Official Account template message likewise names a template id and fills its
fields. Both are a `TemplateMessage`. Email stays free text (`campaigns.channels.send_email`).

A provider returns the provider's message id when the provider *accepted* the message, and
raises:
- `ChannelError(code, reason, temporary=...)` when the provider refused it, with the provider's
  own error code and a translated reason; `temporary=True` only for errors the provider
  documents as temporary (throttling, a system busy answer), which the dispatcher retries with
  backoff — never a refused template or an invalid number;
- `ChannelInDoubt` when the answer was lost (a timeout, a dropped connection after the request
  went out): the message may have gone out, so it is reported in doubt and never re-sent.

An SMS provider that can send a block of messages in one call (Aliyun `SendBatchSms`, Tencent
`SendSms` with several numbers) says so with `max_batch` > 1, `batch_key` and `send_batch`
(`BatchSmsProvider`): the dispatcher groups a block's messages by `batch_key` (None: never batched),
at most `max_batch` (and SMS_BATCH_SIZE) to a call and no number twice in one call; `send_batch`
answers each message's id or ChannelError in order, or raises for the whole call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TemplateMessage:
    """A message for a template-based provider."""

    template_code: str  # the provider's template code (SMS) or template id (WeChat)
    params: dict[str, str] = field(default_factory=dict)  # the template's named variables, filled
    text: str = ""  # the rendered text, as the member will read it (the log provider stores it)
    sign_name: str = ""  # SMS signature name; empty: the provider's configured default
    url: str = ""  # WeChat: the page the message opens


class ChannelError(Exception):
    """The provider refused the message (the send is recorded as failed with `code`)."""

    def __init__(self, code: str, reason: str = "", *, temporary: bool = False):
        self.code = code
        self.reason = reason or code
        self.temporary = temporary
        super().__init__(self.reason)


class ChannelInDoubt(ChannelError):
    """The provider's answer was lost: the message may or may not have gone out."""

    def __init__(self, code: str = "timeout", reason: str = ""):
        super().__init__(code, reason, temporary=False)


class SmsProvider(Protocol):
    name: str  # "log", "aliyun", "tencent"

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        """Send one SMS to a phone in E.164 form (+8613800000000); return the provider's message id."""


class WeChatProvider(Protocol):
    name: str  # "log", "wechat"

    def send(self, *, openid: str, message: TemplateMessage, reference: str) -> str:
        """Send one template message to a follower; return WeChat's msgid."""


class BatchSmsProvider(SmsProvider, Protocol):
    max_batch: int  # the most messages the provider takes in one call

    def batch_key(self, message: TemplateMessage):
        """Messages with the same (hashable, not None) key may share one call."""

    def send_batch(self, items: list[tuple[str, TemplateMessage, str]]) -> list[str | ChannelError]:
        """Send (phone, message, reference) items in one call; each one's message id or refusal,
        in order. Raises ChannelError / ChannelInDoubt when the whole call was refused or lost."""
