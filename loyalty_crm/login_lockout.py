"""Admin sign-in lockout (django-axes), with the project's rules.

- **Per user**: `AXES_FAILURE_LIMIT` (5) failed sign-ins for one username, from anywhere, lock
  that username out for `AXES_COOLOFF_TIME` (15 minutes).
- **Per address**: `LOGIN_FAILURE_LIMIT_PER_ADDRESS` (20) failed sign-ins from one client
  address, whatever the usernames, lock that address out for the same time. The limit is higher
  than the per-user one because a shop's staff share one public address behind its router: one
  person's typos must not lock out the whole shop, while password spraying from one address is
  still stopped.
- Every attempt during a lockout (even with the right password) fails and starts the wait again.
- A successful sign-in clears that user's own failures, never the address's failures of other
  usernames, so knowing one password does not reset the counter for guessing others.
- The client address is `loyalty_crm.netaddr.client_ip`: X-Forwarded-For is believed only from
  `TRUSTED_PROXIES`, so a forged header cannot dodge the lockout.

The refusal is a page in the staff's language with HTTP 429 and `Retry-After`. Managers see and
clear lockouts in the admin ("Access attempts": deleting the rows lifts the lockout).
"""

from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Sum
from django.shortcuts import render
from django.utils.translation import gettext_noop

from loyalty_crm.netaddr import client_ip

# django-axes ships no Chinese; the project's catalogue translates the admin labels it shows.
AXES_LABELS = (
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("Username"),
    gettext_noop("IP Address"),
    gettext_noop("User Agent"),
    gettext_noop("Path"),
    gettext_noop("Failed Logins"),
    gettext_noop("Attempt Time"),
    gettext_noop("Logout Time"),
    gettext_noop("Locked Out"),
    gettext_noop("Access lock out"),
)

LOCKOUT_TEMPLATE = "admin/login_locked_out.html"
# The order the handler below relies on: the per-user query first, then the per-address one.
LOCKOUT_PARAMETERS = ["username", "ip_address"]


def client_address(request) -> str | None:
    """The sign-in's client address by the project's trusted-proxy rule; None when unknown
    (axes stores addresses in an IP-address column)."""
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def address_limit() -> int:
    return int(getattr(settings, "LOGIN_FAILURE_LIMIT_PER_ADDRESS", 20))


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a per-address limit of its own (see the module docstring)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures counted against `AXES_FAILURE_LIMIT`: the user's own, or the address's scaled
        so that reaching `LOGIN_FAILURE_LIMIT_PER_ADDRESS` reaches the limit too."""
        if settings.AXES_LOCKOUT_PARAMETERS != LOCKOUT_PARAMETERS:
            raise ValueError(f"LockoutHandler needs AXES_LOCKOUT_PARAMETERS = {LOCKOUT_PARAMETERS!r}")
        per_user, per_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        limit = int(settings.AXES_FAILURE_LIMIT)
        return max(per_user, per_address * limit // max(address_limit(), 1))

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """After a successful sign-in: forget that username's failures only."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _rows = AccessAttempt.objects.filter(username=username).delete()
        return count


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets: why, how long to wait, whom to ask; 429 + Retry-After."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {
        **admin.site.each_context(request),
        "minutes": max(1, (seconds + 59) // 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


def prune_signin_logs(*, age_days: int | None = None) -> int:
    """Delete sign-in log rows (successes and failures) older than `age_days`
    (SIGNIN_LOG_RETENTION_DAYS by default); returns how many went. Lockout attempts are not
    touched: they clean themselves up after the lockout time."""
    days = settings.SIGNIN_LOG_RETENTION_DAYS if age_days is None else age_days
    if days < 1:
        raise ValueError(f"age_days must be 1 or more, not {days}.")
    return AxesProxyHandler.reset_logs(age_days=days) + AxesProxyHandler.reset_failure_logs(age_days=days)
