"""Celery tasks of `campaigns`; they call services and write nothing themselves."""

from __future__ import annotations

from celery import shared_task

from campaigns.classification import classify_members as run_classification
from campaigns.segments import refresh_segment_sizes


@shared_task(name="campaigns.classify_members", acks_late=True)
def classify_members(as_of: str | None = None) -> dict:
    """Nightly (beat task "Classify members (nightly)", 03:00 Asia/Shanghai): classify every
    member as of today (or `as_of`, "YYYY-MM-DD"), then recount the segments.

    Safe to run twice or to retry after a crash: a run rewrites every member's score whole.
    """
    import datetime

    day = datetime.date.fromisoformat(as_of) if as_of else None
    result = run_classification(as_of=day)
    segments = refresh_segment_sizes()
    return {
        "as_of": result.as_of.isoformat(),
        "members": result.members,
        "counts": result.counts,
        "seconds": result.seconds,
        "segments_counted": segments,
    }
