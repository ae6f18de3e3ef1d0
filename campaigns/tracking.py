"""Email tracking: a signed open pixel and signed click redirects, first open/click per message.

Every link (http or https) in a rendered email is replaced by `/c/c/<token>/`, where the token
signs (outbox message id, the URL) with `django.core.signing`. The redirect goes only to the URL
in a valid token — one we wrote when rendering that message — so it cannot be used as an open
redirect; a tampered or foreign token answers 404. The pixel `/c/o/<token>.gif` signs the
message id. Only the first open and the first click are recorded (`MessageEngagement`); a click
also counts as an open (images are often blocked).

This module signs, reads and renders; the opens and clicks are recorded by
`campaigns.services.tracking`.
"""

from __future__ import annotations

import dataclasses
import re

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.html import escape, linebreaks

from campaigns.templating import RenderedMessage

OPEN_SALT = "campaigns.tracking.open"
CLICK_SALT = "campaigns.tracking.click"
URL_RE = re.compile(r"https?://[^\s<>\"'，。！？、）)]+", re.IGNORECASE)
# 1×1 transparent GIF
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def open_token(message_id: int) -> str:
    return signing.dumps({"m": message_id}, salt=OPEN_SALT)


def click_token(message_id: int, url: str) -> str:
    return signing.dumps({"m": message_id, "u": url}, salt=CLICK_SALT, compress=True)


def read_open_token(token: str) -> int | None:
    try:
        data = signing.loads(token, salt=OPEN_SALT)
    except signing.BadSignature:
        return None
    message_id = data.get("m") if isinstance(data, dict) else None
    return message_id if isinstance(message_id, int) and not isinstance(message_id, bool) else None


def read_click_token(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt=CLICK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    message_id, url = data.get("m"), data.get("u")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not isinstance(url, str):
        return None
    if not URL_RE.fullmatch(url):  # only the http(s) links we found when rendering
        return None
    return message_id, url


@dataclasses.dataclass(frozen=True)
class TrackedMessage(RenderedMessage):
    """A rendered email whose links go through the click redirect, with the open pixel."""

    message_id: int = 0

    def _tracked(self, url: str) -> str:
        return _absolute(reverse("campaigns:click", args=[click_token(self.message_id, url)]))

    @property
    def links(self) -> list[str]:
        return URL_RE.findall(self.text)

    @property
    def plain(self) -> str:
        return URL_RE.sub(lambda match: self._tracked(match.group(0)), self.text)

    @property
    def html(self) -> str:
        # Escape the text, then turn each link (found in the unescaped text) into an anchor.
        parts, last = [], 0
        for match in URL_RE.finditer(self.text):
            parts.append(escape(self.text[last : match.start()]))
            parts.append(f'<a href="{escape(self._tracked(match.group(0)))}">{escape(match.group(0))}</a>')
            last = match.end()
        parts.append(escape(self.text[last:]))
        pixel = _absolute(reverse("campaigns:open", args=[open_token(self.message_id)]))
        body = linebreaks("".join(parts), autoescape=False)
        return f'{body}<img src="{escape(pixel)}" width="1" height="1" alt="" style="display:none">'


def tracked(message: RenderedMessage, *, message_id: int) -> TrackedMessage:
    return TrackedMessage(subject=message.subject, text=message.text, message_id=message_id)
