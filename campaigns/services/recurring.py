"""Recurring campaigns: the django-celery-beat entry, and one run per occurrence.

Launching a recurring campaign (`launch_campaign`) creates — or enables again — its beat entry:
a `PeriodicTask` named "Recurring campaign #<id>: <name>" with a `CrontabSchedule` in
TIME_ZONE (Asia/Shanghai) that runs the task `campaigns.run_recurring_campaign` with the
campaign's id (visible under Periodic tasks). Each run (`run_occurrence`):

- takes the campaign's row lock, so two runs of the same occurrence queue one after the other;
- names the occurrence by its local day: a `CampaignOccurrence` unique per (campaign, day) with
  its own `CampaignStep`, so a duplicate beat tick or a re-run of the day adds nothing;
- resolves the segment's members *now* (a member who joined it since the last run gets this
  one), draws the same control group as every run (the draw is per campaign and member), and
  fills the outbox for the step; the normal dispatch sends it under the contact policy
  (consent, frequency cap, quiet hours, send rate).

The campaign stays `scheduled` until its first run and `sending` between runs; the dispatch
completes it only once its last day ("repeat until") has passed and nothing is left to send,
and then disables its beat entry. Cancelling disables the entry too.
"""

from __future__ import annotations

import datetime
import json
import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from campaigns import lock_objects, recurrence, selectors
from campaigns.models import Campaign, CampaignOccurrence, CampaignStep, OutboxMessage

logger = logging.getLogger(__name__)
TASK_NAME = "campaigns.run_recurring_campaign"


def schedule_of(campaign: Campaign) -> recurrence.Schedule | None:
    """The campaign's schedule, or None for a one-off campaign."""
    if not campaign.is_recurring or campaign.repeat_time is None:
        return None
    return recurrence.Schedule(
        frequency=campaign.repeat,
        time=campaign.repeat_time,
        weekday=campaign.repeat_weekday,
        day=campaign.repeat_day,
        until=campaign.repeat_until,
    )


def next_run_at(campaign: Campaign, *, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """When the beat runs a launched recurring campaign next (None: one-off, draft, ended or cancelled)."""
    schedule = schedule_of(campaign)
    if schedule is None or campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING):
        return None
    return recurrence.next_run(
        schedule, after=now or timezone.now(), tz=settings.TIME_ZONE, not_before=campaign.start_at
    )


def beat_entry_name(campaign: Campaign) -> str:
    return f"Recurring campaign #{campaign.pk}: {campaign.name}"[:200]


def schedule_beat_entry(*, campaign: Campaign) -> PeriodicTask:
    """Create or update (and enable) the campaign's beat entry. The caller holds the campaign's lock."""
    schedule = schedule_of(campaign)
    fields = recurrence.crontab_fields(schedule)
    crontab = CrontabSchedule.objects.filter(timezone=settings.TIME_ZONE, **fields).order_by("pk").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(timezone=settings.TIME_ZONE, **fields)
    task = campaign.periodic_task or PeriodicTask()
    task.name = beat_entry_name(campaign)
    task.task = TASK_NAME
    task.crontab = crontab
    task.interval = None
    task.args = json.dumps([campaign.pk])
    task.kwargs = "{}"
    task.start_time = campaign.start_at
    task.one_off = False
    task.enabled = True
    task.description = recurrence.describe(schedule)
    task.save()
    if campaign.periodic_task_id != task.pk:
        campaign.periodic_task = task
        campaign.save(update_fields=["periodic_task", "updated_at"])
    return task


def disable_beat_entries(campaign_ids: list[int]) -> int:
    """Switch off the beat entries of these campaigns (cancelled or ended); beat notices at once."""
    task_ids = Campaign.objects.filter(pk__in=campaign_ids, periodic_task__isnull=False).values("periodic_task_id")
    changed = PeriodicTask.objects.filter(pk__in=task_ids, enabled=True).update(enabled=False)
    if changed:
        PeriodicTasks.update_changed()  # a queryset update sends no signal; tell beat to reload
    return changed


@dataclass
class OccurrenceResult:
    campaign_id: int
    on: datetime.date
    step: int
    audience: int
    control_group: int


def run_occurrence(*, campaign_id: int, now: datetime.datetime | None = None) -> OccurrenceResult | None:
    """The beat's run of a recurring campaign: queue today's occurrence once. Returns None when
    there is nothing to do (not recurring, not launched, cancelled, not a run day, before the run
    time, today's run time before the campaign's start, or the day's occurrence exists already).
    After the last day it completes the campaign (when nothing is left to send) and disables the
    beat entry."""
    from campaigns.services.dispatch import complete_finished_campaigns, fill_outbox, kick_dispatch

    now = now or timezone.now()
    with transaction.atomic():
        campaign = lock_objects.campaign_for_update(campaign_id)
        schedule = schedule_of(campaign)
        if schedule is None or campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING):
            return None
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        day = recurrence.local_date(now)
        if schedule.until is not None and day > schedule.until:
            ended = True
        else:
            ended = False
            due_at = datetime.datetime.combine(day, schedule.time, tzinfo=zone)
            # Not a run day, not yet the run's time, or today's run time came before the start.
            if not recurrence.is_run_day(schedule, day) or now < due_at or (campaign.start_at or due_at) > due_at:
                logger.info("recurring campaign %s: %s is not a run time, nothing queued", campaign_id, now)
                return None
            if CampaignOccurrence.objects.filter(campaign=campaign, on=day).exists():
                return None  # a duplicate tick or a re-run of the day
            result = _queue_occurrence(campaign=campaign, day=day, now=now, fill_outbox=fill_outbox)
            transaction.on_commit(kick_dispatch)
    if ended:
        complete_finished_campaigns(now=now)
        disable_beat_entries([campaign_id])
        return None
    return result


def _queue_occurrence(*, campaign: Campaign, day: datetime.date, now, fill_outbox) -> OccurrenceResult:
    # Step 1, made with the draft, is used by the first run; later runs add steps.
    unused = (
        CampaignStep.objects.filter(campaign=campaign, campaign_occurrence__isnull=True)
        .exclude(Exists(OutboxMessage.objects.filter(step=OuterRef("pk"))))
        .order_by("number")
        .first()
    )
    if unused is not None:
        step = unused
    else:
        number = (CampaignStep.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"] or 0) + 1
        step = CampaignStep.objects.create(campaign=campaign, number=number)
    CampaignOccurrence.objects.create(campaign=campaign, on=day, step=step, ran_at=now)
    members = selectors.audience_members(campaign)
    filled = fill_outbox(campaign=campaign, step=step, members=members, sample_pct=None, now=now)
    if campaign.status != Campaign.Status.SENDING:
        campaign.status = Campaign.Status.SENDING
        campaign.started_at = campaign.started_at or now
        campaign.save(update_fields=["status", "started_at", "updated_at"])
    logger.info(
        "recurring campaign %s run %s (step %s): audience %s, control group %s",
        campaign.pk, day, step.number, filled.audience, filled.control_group,
    )  # fmt: skip
    return OccurrenceResult(
        campaign_id=campaign.pk, on=day, step=step.number, audience=filled.audience, control_group=filled.control_group
    )
