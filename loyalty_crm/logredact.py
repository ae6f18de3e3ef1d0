"""Logs never carry a phone number or an email address in clear (PIPL's 最小必要).

Request logs (`django.server` under runserver/rundev, `django.request`, gunicorn's access log)
write the request line, query string included. `redact` replaces the values of the query
parameters that hold contact data, free searches or secrets (`phone`, `email`, `search`, `q`,
`token`, `code`, …) and
anything else that looks like a phone number or an email address with `***`. `RedactFilter`
applies it to every record through the handlers of `settings.LOGGING`;
`loyalty_crm.gunicorn_logging.RedactingLogger` to gunicorn's access log (`gunicorn.conf.py`).

No Django imports: gunicorn's master loads this before Django is set up.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# Query parameters whose values are contact data or may be (a free search is often a phone), and
# secrets that travel in a URL: the SMS receipt hooks' shared `token`, WeChat's one-time OAuth `code`.
SENSITIVE_PARAMS = ("phone", "email", "search", "q", "mobile", "tel", "contact", "term", "token", "code")

_PARAM = re.compile(
    r"(?P<key>(?:^|[?&;]|%3F|%26)(?:" + "|".join(SENSITIVE_PARAMS) + r")(?:=|%3D))(?P<value>[^&;#\s\"']*)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+%-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# "+8613800138000", "%2B86 138-0013-8000", "+44 7911 123456": a plus, then digits and separators.
_INTERNATIONAL = re.compile(r"(?:\+|%2B)\d(?:[\d\-.()\s]|%20){6,}\d", re.IGNORECASE)
# A Chinese mobile number written alone ("13800138000", "138-0013-8000", "138 0013 8000"),
# never a run inside a longer word or number (a member number "M13800138000" stays).
_CN_MOBILE = re.compile(r"(?<![\w])1[3-9]\d(?:[\-\s]|%20)?\d{4}(?:[\-\s]|%20)?\d{4}(?![\w])")


def redact(text: str) -> str:
    """`text` with contact data replaced by `***` (query values, emails, phone numbers)."""
    if not text:
        return text
    text = _PARAM.sub(lambda m: m.group("key") + (MASK if m.group("value") else ""), text)
    text = _EMAIL.sub(MASK, text)
    text = _INTERNATIONAL.sub(MASK, text)
    return _CN_MOBILE.sub(MASK, text)


class RedactFilter(logging.Filter):
    """Rewrites a record's message with `redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the formatter's to report, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
