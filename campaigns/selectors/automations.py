"""When the date-based automations fire next (the marketing home page).

The daily beat task (`campaigns.run_automations`, 10:00 Asia/Shanghai) runs every enabled
automation once a day: a birthday greeting goes to members whose birthday is `days_before` days
after the run, an important-date greeting to those with a date from the run's day to `days_before`
days later. A holiday greeting goes out from the holiday's lead days before it (the calendar's,
`members.Holiday`) up to the day itself, once per holiday date (its occurrence is keyed by the
year): `campaigns.services.automations.run_holiday`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from campaigns.models import Automation, AutomationOccurrence
from members import holidays as holiday_rules
from members.models import Holiday

DATE_KINDS = (Automation.Kind.HOLIDAY, Automation.Kind.BIRTHDAY, Automation.Kind.IMPORTANT_DATE)


@dataclass(frozen=True)
class NextRun:
    automation: Automation
    on: datetime.date  # the day of the next run that sends
    target: datetime.date  # the holiday, or the first birthday / important date that run greets
    target_last: datetime.date  # the last date that run greets (== target but for important dates)


def next_runs(*, today: datetime.date, ran_today: bool | None = None, limit: int = 6) -> list[NextRun]:
    """The enabled holiday, birthday and important-date automations with the day each sends next,
    soonest first. A daily automation sends today if it has not run today, else tomorrow; a holiday
    greeting on the first day of its lead window that has not been greeted for that year. Three
    queries."""
    automations = list(
        Automation.objects.filter(enabled=True, campaign__isnull=False, kind__in=DATE_KINDS).order_by("kind", "pk")
    )
    codes = [a.holiday for a in automations if a.kind == Automation.Kind.HOLIDAY]
    calendar_rows = {h.code: h for h in Holiday.objects.filter(code__in=codes, is_active=True)} if codes else {}
    greeted = set()
    if codes:
        greeted = set(
            AutomationOccurrence.objects.filter(
                automation__in=[a for a in automations if a.kind == Automation.Kind.HOLIDAY],
                key__in=[str(today.year), str(today.year + 1)],
            ).values_list("automation_id", "key")
        )
    runs = []
    for automation in automations:
        if automation.kind == Automation.Kind.HOLIDAY:
            holiday = calendar_rows.get(automation.holiday)
            if holiday is None:
                continue  # switched off or gone from the calendar: never greeted
            automation.holiday_label = holiday.name  # `holiday_name` reads it without a query
            run = _next_holiday_run(automation, holiday, today, greeted)
            if run is not None:
                runs.append(run)
            continue
        day = today if automation.last_run_on != today else today + datetime.timedelta(days=1)
        ahead = datetime.timedelta(days=automation.days_before)
        if automation.kind == Automation.Kind.BIRTHDAY:
            runs.append(NextRun(automation, day, day + ahead, day + ahead))
        else:
            runs.append(NextRun(automation, day, day, day + ahead))
    runs.sort(key=lambda run: (run.on, run.target, run.automation.pk))
    return runs[:limit]


def _next_holiday_run(automation, holiday, today, greeted) -> NextRun | None:
    lead = datetime.timedelta(days=holiday.lead_days)
    start = today
    for _attempt in range(3):
        try:
            date = holiday_rules.next_date(holiday, start)
        except ValueError:
            return None
        if (automation.pk, str(date.year)) not in greeted:
            return NextRun(automation, max(today, date - lead), date, date)
        start = date + datetime.timedelta(days=1)
    return None
