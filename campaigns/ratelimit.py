"""The per-channel send rate (ContactPolicy: messages per second).

A fixed one-second window counted in Django's cache: each send takes a number with an atomic
`incr` on `campaigns:rate:<channel>:<second>`; past the rate it sleeps until the next second.
With the Redis cache (`REDIS_URL`) the count is shared, so the rate holds for all workers on
all machines together; with the local-memory cache (development) it holds per worker process.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def wait_for_send_slot(channel: str, rate: int, *, clock=time.time, sleep=time.sleep) -> float:
    """Block until a send on `channel` fits in the rate; returns the seconds waited."""
    waited = 0.0
    rate = max(1, rate)
    while True:
        now = clock()
        second = int(now)
        key = f"campaigns:rate:{channel}:{second}"
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
