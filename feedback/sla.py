"""Service-level arithmetic: which target applies to a ticket, when it falls due, and the one
definition of "breached" and "about to breach".

Pure functions over already loaded targets and calendars (no queries), so the rules are easy to
test; the services in `feedback.services` load the targets and write the results.

The boundary, decided once here: a target falls due at its due instant, and **at the due instant
an unanswered (or unresolved) ticket is breached** — the customer has waited the whole target.
A response or resolution made *by* the due instant (at or before it) meets the target.
`breached_q`, `about_to_breach_q`, `missed_q` and `sla_state` all follow it; the queryset
filters, the beat task's candidates, the KPIs and the admin badge use nothing else.

Deadlines count from `contacted_at` (when the customer first reached us), in the team's business
hours when its team has a calendar (`BusinessHours`), round the clock otherwise.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# How soon a customer who called or chatted was answered, as staff record it when they type the
# ticket in afterwards (the seeds: "phone within three rings", "online within 30 seconds").
ANSWERED_AT = "at"
ANSWERED_NOT_YET = "not_yet"
ANSWERED_WITHIN = {
    "three_rings": datetime.timedelta(seconds=15),
    "30s": datetime.timedelta(seconds=30),
    "1min": datetime.timedelta(minutes=1),
    "5min": datetime.timedelta(minutes=5),
}
ANSWER_CHOICES = [
    ("three_rings", gettext_lazy("Within three rings (phone)")),
    ("30s", gettext_lazy("Within 30 seconds")),
    ("1min", gettext_lazy("Within a minute")),
    ("5min", gettext_lazy("Within 5 minutes")),
    (ANSWERED_AT, gettext_lazy("At the time given")),
    (ANSWERED_NOT_YET, gettext_lazy("Not answered yet (we call back)")),
]
# Channels where the customer waits on the line: staff say how soon they were answered.
ANSWER_REQUIRED_CHANNELS = ("phone", "wechat")

DEFAULT_WARNING_FRACTION = 0.25
DEFAULT_WARNING_MAX = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Deadlines:
    first_response_due: datetime.datetime | None = None
    first_response_warn_at: datetime.datetime | None = None
    resolution_due: datetime.datetime | None = None
    resolution_warn_at: datetime.datetime | None = None


def choose_target(targets: Iterable, *, kind: str, channel: str, priority: str):
    """The target matching the most of kind, channel and priority (blank matches any); between
    equally specific targets the stricter wins (shorter first response, then shorter resolution)."""
    matching = [t for t in targets if t.matches(kind=kind, channel=channel, priority=priority)]
    if not matching:
        return None
    return min(matching, key=lambda t: (-t.specificity(), t.first_response, t.resolution, t.pk or 0))


def warning_window(target: datetime.timedelta) -> datetime.timedelta:
    """How long before a target falls due a ticket counts as "about to breach": the last
    FEEDBACK_SLA_WARNING_FRACTION of the target, at most FEEDBACK_SLA_WARNING_MAX_SECONDS."""
    fraction = float(getattr(settings, "FEEDBACK_SLA_WARNING_FRACTION", DEFAULT_WARNING_FRACTION))
    cap_seconds = getattr(settings, "FEEDBACK_SLA_WARNING_MAX_SECONDS", None)
    cap = datetime.timedelta(seconds=cap_seconds) if cap_seconds is not None else DEFAULT_WARNING_MAX
    return min(target * fraction, cap)


def deadlines(target, *, start: datetime.datetime, hours: BusinessHours | None = None) -> Deadlines:
    """Due and warning instants of `target` counted from `start` (the customer's contact): in
    business time when `hours` is given, round the clock otherwise."""
    if target is None:
        return Deadlines()

    def at(elapsed: datetime.timedelta) -> datetime.datetime:
        return start + elapsed if hours is None else hours.add(start, elapsed)

    first, resolution = target.first_response, target.resolution
    return Deadlines(
        first_response_due=at(first),
        first_response_warn_at=at(first - warning_window(first)),
        resolution_due=at(resolution),
        resolution_warn_at=at(resolution - warning_window(resolution)),
    )


# --- business hours -----------------------------------------------------------------------------

DEFAULT_TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class BusinessHours:
    """A team's working time: the same opening hours on the given ISO weekdays (1 = Monday), in a
    time zone, closed on `days_off` (public holidays, loaded by the caller for the span needed)."""

    weekdays: frozenset[int]
    opens: datetime.time
    closes: datetime.time
    time_zone: str = DEFAULT_TIME_ZONE
    days_off: frozenset[datetime.date] = frozenset()

    def __post_init__(self):
        if not self.weekdays or self.opens >= self.closes:
            raise ValueError("Business hours need at least one weekday and opening before closing.")

    def _zone(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    def is_working_day(self, day: datetime.date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.days_off

    def _window(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        zone = self._zone()
        return (
            datetime.datetime.combine(day, self.opens, tzinfo=zone),
            datetime.datetime.combine(day, self.closes, tzinfo=zone),
        )

    def add(self, start: datetime.datetime, elapsed: datetime.timedelta) -> datetime.datetime:
        """The instant `elapsed` of working time after `start`: time outside opening hours, on
        closed weekdays and on days off does not count. `start` outside hours begins at the next
        opening (a ticket filed on Saturday night with a Mon–Fri team starts Monday morning)."""
        if elapsed < datetime.timedelta(0):
            raise ValueError("elapsed must not be negative")
        local = start.astimezone(self._zone())
        day = local.date()
        left = elapsed
        for _step in range(3700):  # ten years of days: a calendar always opens within that
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin = max(local, opens)
                if begin < closes:
                    if begin + left <= closes:
                        return (begin + left).astimezone(start.tzinfo)
                    left -= closes - begin
            day += datetime.timedelta(days=1)
        raise ValueError("No working time found within ten years.")  # pragma: no cover

    def span_days(self, start: datetime.datetime, elapsed: datetime.timedelta) -> tuple[datetime.date, datetime.date]:
        """The dates whose holidays can matter for `add(start, elapsed)` (for loading days off):
        generous — every calendar day needed if only one working hour a week counted."""
        hours_a_week = len(self.weekdays) * (
            datetime.datetime.combine(datetime.date.min, self.closes)
            - datetime.datetime.combine(datetime.date.min, self.opens)
        )
        weeks = int(elapsed / hours_a_week) + 2
        local_day = start.astimezone(self._zone()).date()
        return local_day, local_day + datetime.timedelta(days=7 * weeks + 60)


# --- the one definition of breached ------------------------------------------------------------


def first_response_overdue_q(now: datetime.datetime) -> Q:
    """Unanswered and the first-response due instant has come (at the due instant: breached)."""
    return Q(first_response_at__isnull=True, first_response_due__lte=now)


def resolution_overdue_q(now: datetime.datetime) -> Q:
    """Unresolved and the resolution due instant has come."""
    return Q(resolved_at__isnull=True, resolution_due__lte=now)


def breached_q(now: datetime.datetime) -> Q:
    """A ticket past a target now (for open tickets: combine with `not_done`)."""
    return first_response_overdue_q(now) | resolution_overdue_q(now)


def about_to_breach_q(now: datetime.datetime) -> Q:
    """Not breached, and a target's warning window has begun."""
    first = Q(first_response_at__isnull=True, first_response_warn_at__lte=now)
    resolution = Q(resolved_at__isnull=True, resolution_warn_at__lte=now)
    return (first | resolution) & ~breached_q(now)


def missed_q(now: datetime.datetime) -> Q:
    """A ticket that missed a target, for the record (KPIs): answered or resolved after the due
    instant, or still waiting at or past it."""
    return Q(first_response_at__gt=F("first_response_due")) | Q(resolved_at__gt=F("resolution_due")) | breached_q(now)


def _after_due(done_at, due, now) -> bool:
    """The Python twin of the Q builders: done after the due instant, or not done at or past it."""
    if due is None:
        return False
    return done_at > due if done_at is not None else due <= now


def is_breached(ticket, now: datetime.datetime) -> bool:
    """`missed_q` for one loaded ticket."""
    return _after_due(ticket.first_response_at, ticket.first_response_due, now) or _after_due(
        ticket.resolved_at, ticket.resolution_due, now
    )


class State:
    MET = "met"
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True)
class SlaStatus:
    state: str
    due_at: datetime.datetime | None
    first_response_seconds: int | None


def sla_status(ticket, now: datetime.datetime) -> SlaStatus:
    """The ticket's service level as the API and the queue show it:

    - `breached` when a target was missed (`is_breached`);
    - `warning` when the target it is working towards is inside its warning window;
    - `met` when the first response came in time (the customer was answered) and nothing is late;
    - `ok` while the first response is awaited and not yet due.

    `due_at` is the next target's due instant (the first response's while unanswered, then the
    resolution's; none once done), `first_response_seconds` the customer's wait for an answer.
    """
    due, warn_at = ticket.next_due()
    waited = None
    if ticket.first_response_at is not None and ticket.contacted_at is not None:
        waited = int((ticket.first_response_at - ticket.contacted_at).total_seconds())
    if is_breached(ticket, now):
        state = State.BREACHED
    elif due is not None and warn_at is not None and warn_at <= now:
        state = State.WARNING
    elif ticket.first_response_at is not None or ticket.is_done:
        state = State.MET
    else:
        state = State.OK
    return SlaStatus(state=state, due_at=due, first_response_seconds=waited)


def time_to_breach(ticket, now: datetime.datetime) -> datetime.timedelta | None:
    """Time left before the ticket's next target (zero or negative once missed); None when done
    or untargeted."""
    due, _warn = ticket.next_due()
    return None if due is None else due - now


def overdue_text(delta: datetime.timedelta) -> str:
    """ "Overdue 1 h 1 min" for a target missed `delta` ago (zero at the due instant)."""
    return _("Overdue %(time)s") % {"time": format_delta(abs(delta))}


def format_delta(delta: datetime.timedelta) -> str:
    """Compact "−1 h 5 min" / "3 d 4 h" / "45 s" for a badge, in the current language."""
    seconds = int(delta.total_seconds())
    sign = "−" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    elif hours:
        text = _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    elif minutes:
        text = _("%(minutes)d min") % {"minutes": minutes}
    else:
        text = _("%(seconds)d s") % {"seconds": secs}
    return sign + text
