"""Service-level arithmetic: which target applies to a ticket, and when it falls due.

Pure functions over already loaded targets (no queries), so the rules are easy to test; the
services in `feedback.services` load the targets and write the results.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

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


def deadlines(target, *, start: datetime.datetime) -> Deadlines:
    if target is None:
        return Deadlines()
    first_due = start + target.first_response
    resolution_due = start + target.resolution
    return Deadlines(
        first_response_due=first_due,
        first_response_warn_at=first_due - warning_window(target.first_response),
        resolution_due=resolution_due,
        resolution_warn_at=resolution_due - warning_window(target.resolution),
    )


def time_to_breach(ticket, now: datetime.datetime) -> datetime.timedelta | None:
    """Time left before the ticket's next target (negative once missed); None when done or untargeted."""
    due, _warn = ticket.next_due()
    return None if due is None else due - now


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
