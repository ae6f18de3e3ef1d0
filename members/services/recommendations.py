"""Product recommendations: each member's top products they have not bought yet, from
item-to-item co-purchase over the last 12 months (docs/rules/analytics.md, "Recommendations").

The nightly task (`members.refresh_recommendations`) and `manage.py refresh_recommendations`
call `refresh_recommendations`, which rewrites the whole table in one transaction with one
set-based statement (members/_sql.py): readers see yesterday's rows until it commits, and running
it twice gives the same rows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from members import _sql

WINDOW_DAYS = 365
TOP_N = 5


@dataclass(frozen=True)
class RecommendationRun:
    rows: int
    since: datetime.datetime
    until: datetime.datetime


def recommendation_window(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    return now - datetime.timedelta(days=WINDOW_DAYS), now


@transaction.atomic
def refresh_recommendations(*, now: datetime.datetime | None = None, top_n: int = TOP_N) -> RecommendationRun:
    """Replace every member's recommendations: up to `top_n` active products they never bought,
    scored by their co-purchase similarity to what they bought in the 12 months before `now`."""
    if top_n < 1:
        raise ValueError(f"top_n must be 1 or more, not {top_n}.")
    now = now or timezone.now()
    since, until = recommendation_window(now)
    rows = _sql.replace_recommendations(since=since, until=until, limit=top_n, now=now)
    return RecommendationRun(rows=rows, since=since, until=until)
