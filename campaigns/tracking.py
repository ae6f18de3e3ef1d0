"""Email tracking: a signed open pixel and signed click redirects, first open/click per message.

Every link (http or https) in a rendered email is replaced by `/c/c/<token>/`, where the token
signs (outbox message id, the URL) with `django.core.signing`. The redirect goes only to the URL
in a valid token — one we wrote when rendering that message — so it cannot be used as an open
redirect; a tampered or foreign token answers 404. The pixel `/c/o/<token>.gif` signs the
message id. Only the first open and the first click are recorded (`MessageEngagement`); a click
also counts as an open (images are often blocked).
"""

from __future__ import annotations

import dataclasses
import re

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks

from campaigns.models import MessageEngagement, OutboxMessage
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


def _engagement(message_id: int) -> MessageEngagement | None:
    campaign_id = (
        OutboxMessage.objects.filter(
            pk=message_id, status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.IN_DOUBT]
        )
        .values_list("campaign_id", flat=True)
        .first()
    )
    if campaign_id is None:
        return None
    engagement, _created = MessageEngagement.objects.get_or_create(
        message_id=message_id, defaults={"campaign_id": campaign_id}
    )
    return engagement


def record_open(*, token: str) -> bool:
    """Record the first open of the message the pixel token names; False for a bad token."""
    message_id = read_open_token(token)
    if message_id is None or _engagement(message_id) is None:
        return False
    MessageEngagement.objects.filter(message_id=message_id, opened_at__isnull=True).update(opened_at=timezone.now())
    return True


def record_click(*, token: str) -> str | None:
    """Record the first click (and an open, if none yet); return the URL to go to, or None."""
    read = read_click_token(token)
    if read is None:
        return None
    message_id, url = read
    if _engagement(message_id) is None:
        return None
    now = timezone.now()
    MessageEngagement.objects.filter(message_id=message_id, clicked_at__isnull=True).update(
        clicked_at=now, clicked_url=url[:500]
    )
    MessageEngagement.objects.filter(Q(message_id=message_id) & Q(opened_at__isnull=True)).update(opened_at=now)
    return url
