"""The development SMS provider: "sends" by storing the message in `SmsLog` (admin: SMS log).

`SMS_PROVIDER=log`. Nothing reaches a phone; production refuses it unless set explicitly, and
`manage.py check --deploy` warns while it is in use (campaigns.W050). The stored text is the
rendered message followed by the provider template code and its variables, so a developer signing
in to the member centre can read the one-time code, and a marketer can see what a real provider
would have been asked to send.
"""

from __future__ import annotations

import json

from campaigns.channels.base import TemplateMessage


def log_text(message: TemplateMessage) -> str:
    """What the log stores: the text, then `[template CODE {"var": "value"}]` when there is one."""
    if not message.template_code:
        return message.text
    params = json.dumps(message.params, ensure_ascii=False, sort_keys=True)
    return f"{message.text}\n[template {message.template_code} {params}]".lstrip("\n")


class DatabaseSmsProvider:
    """Stores each message in SmsLog and answers `db-<log id>` as the provider's message id."""

    name = "log"

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        from campaigns.services.sms_log import log_sms  # services import channels: import when used

        return f"db-{log_sms(phone=phone, text=log_text(message), reference=reference).pk}"
