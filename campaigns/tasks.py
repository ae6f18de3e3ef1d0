"""Celery tasks of `campaigns`: thin wrappers over `campaigns.services` taking ids only.

Beat runs "Start due campaigns" and "Recover campaign outbox leases" every minute (created by a
data migration, editable under Periodic tasks). Dispatch never relies on the broker redelivering
a task: a dead worker's leases expire and the recovery task resumes its work. "Classify members
(nightly)" runs at 03:00 Asia/Shanghai. A recurring campaign gets its own beat entry at launch
("Recurring campaign #<id>: <name>", a crontab in Asia/Shanghai) running `run_recurring_campaign`.
"""

from __future__ import annotations

import os
import socket

from celery import shared_task
from django.conf import settings

from campaigns import selectors
from campaigns.services import dispatch
from campaigns.services.classification import classify_members as run_classification
from campaigns.services.segments import refresh_segment_sizes


@shared_task(name="campaigns.start_due_campaigns")
def start_due_campaigns() -> list[int]:
    return dispatch.start_due_campaigns()


@shared_task(name="campaigns.start_campaign")
def start_campaign_task(campaign_id: int) -> bool:
    return dispatch.start_campaign(campaign_id=campaign_id) is not None


@shared_task(name="campaigns.dispatch_batch", bind=True)
def dispatch_batch_task(self, batch_size: int | None = None) -> dict[str, int]:
    """Send one batch; when it was full, enqueue the next one (the chain ends when work runs out)."""
    batch_size = batch_size or settings.CAMPAIGN_BATCH_SIZE
    owner = f"{socket.gethostname()}:{os.getpid()}:{(self.request.id or 'local')[:8]}"
    result = dispatch.dispatch_batch(owner=owner, batch_size=batch_size)
    if result.claimed >= batch_size:
        dispatch_batch_task.delay(batch_size)
    return result.__dict__


@shared_task(name="campaigns.recover_expired_leases")
def recover_expired_leases() -> dict:
    """Release expired leases, mark in-doubt sends, complete finished campaigns, and resume
    dispatch of whatever is due (released rows, and messages quiet hours held back)."""
    recovery = dispatch.recover_expired_leases()
    if selectors.due_work_exists(dispatch.timezone.now()):
        dispatch.kick_dispatch()
    return {"released": recovery.released, "in_doubt": recovery.in_doubt, "completed": recovery.completed}


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


@shared_task(name="campaigns.run_automations")
def run_automations() -> dict:
    """Daily (beat task "Run automations (daily)", 10:00 Asia/Shanghai): evaluate the date-based
    automations (birthday, holidays, points expiry, win-back) and queue their messages."""
    from campaigns.services.automations import run_automations as run

    return run()


@shared_task(name="campaigns.run_recurring_campaign")
def run_recurring_campaign(campaign_id: int) -> dict | None:
    """A recurring campaign's beat entry ("Recurring campaign #<id>: <name>", made at launch):
    queue today's run once (a duplicate tick or a re-run adds nothing), or end the campaign after
    its last day."""
    from campaigns.services.recurring import run_occurrence

    result = run_occurrence(campaign_id=campaign_id)
    if result is None:
        return None
    return {"on": result.on.isoformat(), "step": result.step, "audience": result.audience,
            "control_group": result.control_group}  # fmt: skip
