"""The per-channel, per-provider send rate and the daily budget per channel (ContactPolicy).

Rate: a fixed one-second window counted in Django's cache: each send takes a number with an
atomic `incr` on `campaigns:rate:<channel>:<provider>:<second>`; past the rate it sleeps until
the next second. With the Redis cache (`REDIS_URL`) the count is shared, so the rate holds for
all workers on all machines together; with the local-memory cache (development) it holds per
worker process. The provider is part of the key, so switching SMS provider starts a fresh count.

`take_send_slots` takes several sends' slots with one `incr` by their number (a worker sending
a batch through a thread pool): it is granted what is left of the second's rate, at least one
slot, waiting for the next second when nothing is; slots counted but not granted are lost for
that second, so the count may run over the rate but the sends never do.

Daily budget: `campaigns:budget:<channel>:<day>` (the day in Asia/Shanghai) counts the messages
handed to the channel that day, with the same atomic `incr`; the counter starts from the day's
count in the outbox when the key is missing (a restarted or flushed cache loses nothing), so
workers together never send more than the budget.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

BUDGET_KEY_SECONDS = 2 * 24 * 3600


def provider_of(channel: str) -> str:
    """The provider a channel's messages go through (part of the rate key)."""
    if channel == "sms":
        return str(settings.SMS_PROVIDER).rsplit(".", 1)[-1]
    if channel == "wechat":
        return str(getattr(settings, "WECHAT_PROVIDER", "wechat")).rsplit(".", 1)[-1]
    return str(settings.EMAIL_BACKEND).rsplit(".", 1)[-1]


def wait_for_send_slot(channel: str, rate: int, *, provider: str = "", clock=time.time, sleep=time.sleep) -> float:
    """Block until a send on `channel` through `provider` fits in the rate; returns the seconds waited."""
    waited = 0.0
    rate = max(1, rate)
    while True:
        now = clock()
        second = int(now)
        key = f"campaigns:rate:{channel}:{provider}:{second}"
        try:
            cache.add(key, 0, timeout=5)
            taken = cache.incr(key)
        except Exception:  # cache down: pace this process alone rather than not at all
            sleep(1 / rate)
            return waited + 1 / rate
        if taken <= rate:
            return waited
        pause = second + 1 - now
        sleep(pause)
        waited += pause


def take_send_slots(
    channel: str, rate: int, wanted: int, *, provider: str = "", clock=time.time, sleep=time.sleep
) -> int:
    """Block until at least one of `wanted` sends on `channel` through `provider` fits in the
    rate; returns how many of them may go now (1..wanted), taken with one `incr` per try."""
    rate = max(1, rate)
    wanted = max(1, wanted)
    while True:
        now = clock()
        second = int(now)
        key = f"campaigns:rate:{channel}:{provider}:{second}"
        ask = min(wanted, rate)
        try:
            cache.add(key, 0, timeout=5)
            taken = cache.incr(key, ask)
        except Exception:  # cache down: pace this process alone rather than not at all
            sleep(ask / rate)
            return ask
        before = taken - ask
        if before < rate:
            return min(ask, rate - before)
        sleep(second + 1 - now)


def take_daily_budget(channel: str, budget: int, *, now) -> bool:
    """Take one message of today's budget on `channel`; False when the budget is used up."""
    from campaigns import rules, selectors

    if not budget:
        return True
    day = rules.local_day(now)
    key = f"campaigns:budget:{channel}:{day.isoformat()}"
    try:
        if cache.get(key) is None:
            cache.add(key, selectors.handed_to_channel_on(channel, day), timeout=BUDGET_KEY_SECONDS)
        return cache.incr(key) <= budget
    except Exception:  # cache down: the outbox's own count (not shared atomically, but bounded)
        return selectors.handed_to_channel_on(channel, day) < budget


def budget_used(channel: str, *, now) -> int:
    """Messages handed to `channel` today (the launch page's remaining budget)."""
    from campaigns import rules, selectors

    day = rules.local_day(now)
    try:
        value = cache.get(f"campaigns:budget:{channel}:{day.isoformat()}")
    except Exception:
        value = None
    return int(value) if value is not None else selectors.handed_to_channel_on(channel, day)


def take_daily_budgets(channel: str, budget: int, wanted: int, *, now) -> int:
    """Take up to `wanted` messages of today's budget on `channel` with one `incr`; returns how
    many were granted (the first ones of a dispatch block), 0 when the budget is used up. Like
    `take_daily_budget`, messages asked for past the budget stay counted: workers together never
    hand more than the budget to the channel."""
    from campaigns import rules, selectors

    if not budget or wanted <= 0:
        return max(wanted, 0)
    day = rules.local_day(now)
    key = f"campaigns:budget:{channel}:{day.isoformat()}"
    try:
        if cache.get(key) is None:
            cache.add(key, selectors.handed_to_channel_on(channel, day), timeout=BUDGET_KEY_SECONDS)
        taken = cache.incr(key, wanted)
    except Exception:  # cache down: the outbox's own count (not shared atomically, but bounded)
        return max(0, min(wanted, budget - selectors.handed_to_channel_on(channel, day)))
    return max(0, min(wanted, budget - (taken - wanted)))
