"""Test doubles for the SMS and WeChat providers: each send answers with the next item of a
script — a provider message id (accepted), or a ChannelError / ChannelInDoubt to raise.

SMS: `SMS_PROVIDER = "tests.campaigns.channel_doubles.ScriptedSmsProvider"`. It accepts both the
interface on main (`text=`) and the template one (`message=TemplateMessage`).
WeChat: the `wechat` fixture replaces `send_wechat` of `campaigns.channels.wechat` with one that
follows `ScriptedWeChat.script`.
"""

from __future__ import annotations

import itertools

import pytest

_ids = itertools.count(1)


class Script:
    """The answers still to give, and what was sent."""

    def __init__(self):
        self.answers: list = []
        self.sent: list[dict] = []

    def answer(self, **sent) -> str:
        self.sent.append(sent)
        outcome = self.answers.pop(0) if self.answers else None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome or f"ref-{next(_ids)}"


class ScriptedSmsProvider:
    name = "log"  # like the development provider: free text is allowed (RealSmsProvider: templates only)
    script = Script()

    def send(self, *, phone: str, reference: str, text: str | None = None, message=None) -> str:
        return self.script.answer(phone=phone, reference=reference, text=text if message is None else message.text,
                                  message=message)  # fmt: skip


class RealSmsProvider(ScriptedSmsProvider):
    """A provider that sends only approved templates (named like a real one)."""

    name = "aliyun"


ScriptedWeChat = Script()


def _send_wechat(*, openid: str, message, reference: str) -> str:
    return ScriptedWeChat.answer(openid=openid, message=message, reference=reference)


@pytest.fixture
def sms(settings):
    settings.SMS_PROVIDER = "tests.campaigns.channel_doubles.ScriptedSmsProvider"
    ScriptedSmsProvider.script = Script()
    return ScriptedSmsProvider.script


@pytest.fixture
def wechat(monkeypatch):
    """Replaces `send_wechat` of the real `campaigns.channels.wechat` (its callers import it when
    they send). Never a stand-in module in `sys.modules`: a module first imported during the test
    (`loyalty_crm.centre.wechat_oauth` binds `campaigns.channels.wechat` when the URLconf loads)
    would keep the stand-in for the rest of the run, and a later test would fail on its missing
    `wechat_enabled`."""
    global ScriptedWeChat
    ScriptedWeChat = Script()
    from campaigns.channels import wechat as module

    monkeypatch.setattr(module, "send_wechat", _send_wechat)
    return ScriptedWeChat
