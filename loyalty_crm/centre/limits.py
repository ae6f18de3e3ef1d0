"""Limits on what a signed-in member may try too often, shared by the pages and the API.

Gift claims: a wrong gift code (`gift_unknown`) or someone else's gift (`gift_not_yours`) counts as
a failed try; after GIFT_CLAIM_HOURLY_FAILURES failed tries in a clock hour the member's claims are
refused until the hour ends (so gift codes cannot be guessed from a member account). Counted in the
shared cache (Redis in production), per member; a claim that succeeds or is already claimed by the
same member does not count.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

FAILED_GIFT_CODES = frozenset({"gift_unknown", "gift_not_yours"})
WINDOW_SECONDS = 3600


def _key(member_id: int, window: int) -> str:
    return f"centre:gift-failures:{member_id}:{window}"


def _window() -> tuple[int, int]:
    now = int(time.time())
    return now // WINDOW_SECONDS, WINDOW_SECONDS - now % WINDOW_SECONDS


def gift_claims_retry_after(member_id: int) -> int:
    """0 when the member may try a gift code now, else the seconds until they may."""
    window, remaining = _window()
    if (cache.get(_key(member_id, window)) or 0) >= settings.GIFT_CLAIM_HOURLY_FAILURES:
        return remaining
    return 0


def record_gift_claim_refusal(member_id: int, code: str) -> None:
    if code not in FAILED_GIFT_CODES:
        return
    window, remaining = _window()
    key = _key(member_id, window)
    cache.add(key, 0, timeout=remaining + 60)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=remaining + 60)
