"""The admin home page as a workspace per role (docs/roles.md, "Home page").

`workspaces_for(user)` picks the panels by the user's groups — in the order store staff, support,
marketing, manager; a user in several groups gets each of their panels, a superuser all of them —
and `build_panels` fills each panel by calling the owning apps' selectors (no rule is computed
here). Every panel is a fixed number of queries whatever the number of members, campaigns or
tickets (tests/test_home.py pins them); the reads go to the replica when there is one.

The find-member box submits to `find_member_view`, which reads the counter's lookup
(`members.selectors.till_lookup`: member number or a scanned card, phone, last four digits, name).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from loyalty_crm.charts import line_chart
from loyalty_crm.db_routing import replica_reads
from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT

STORE_STAFF_PANEL, SUPPORT_PANEL, MARKETING_PANEL, MANAGER_PANEL = "store_staff", "support", "marketing", "manager"
# The order panels appear in when a user holds several roles.
WORKSPACES = ((STORE_STAFF, STORE_STAFF_PANEL), (SUPPORT, SUPPORT_PANEL), (MARKETING, MARKETING_PANEL),
              (MANAGER, MANAGER_PANEL))  # fmt: skip
VIEW_MEMBERS = "members.view_member"
VIEW_ALL_STORES = "members.view_all_stores"
POST_PURCHASES = "rewards.add_purchaseposting"
RETURN_GOODS = "rewards.add_purchaserefund"
VIEW_STORED_VALUE_LIABILITY = "rewards.view_stored_value_liability"
KPI_MONTHS = 6
LIFT_DAYS = 90
FIND_TERM_MAX = 64
# Slow-moving figures (a month's KPIs, liabilities, lifts, the dashboard's) are computed at most this
# often per key and shared by everyone who sees them; lists people act on (birthdays, tickets,
# campaigns, budgets) are read on every view.
FIGURES_SECONDS = 300


# The beat task `loyalty_crm.refresh_home_figures` recomputes the shared figures this often, before
# they expire, so that no page request pays for them in normal operation (`refresh_shared_figures`).
REFRESH_SECONDS = 240


def cached_figures(key: str, build):
    """(value, computed_at): `build()` cached for FIGURES_SECONDS under `key` (Redis in production,
    so every worker shares one computation)."""
    hit = cache.get(f"home:{key}")
    if hit is None:
        hit = store_figures(key, build)
    return hit


def store_figures(key: str, build):
    """(value, computed_at): `build()` computed now and shared under `key` for FIGURES_SECONDS."""
    hit = (build(), timezone.now())
    cache.set(f"home:{key}", hit, FIGURES_SECONDS)
    return hit


def refresh_shared_figures(now: datetime.datetime | None = None) -> list[str]:
    """Recompute every figure the home pages share (the manager's KPIs, the service desk's
    satisfaction, the running campaigns' outcomes, the key figures of the chain and of each active
    store) and store them for the next FIGURES_SECONDS; returns the keys. Run by beat every
    REFRESH_SECONDS (loyalty_crm.tasks.refresh_home_figures), from the replica when there is one."""
    from campaigns.selectors.campaigns import running_campaigns
    from members.models import Store
    from members.selectors import dashboard_figures

    now = now or timezone.now()
    today = timezone.localdate(now)
    keys = []
    with replica_reads():
        jobs = [
            (manager_key(today), lambda: manager_figures(today, now)),
            (satisfaction_key(today), lambda: satisfaction_figures(today)),
        ]
        _count, running = running_campaigns()
        if running:
            jobs.append((campaigns_key(today, running), lambda: campaign_outcomes(today, running)))
        jobs.append((dashboard_key(today, None), lambda: dashboard_figures(today=today)))
        for store in Store.objects.filter(is_active=True).order_by("pk"):
            jobs.append((dashboard_key(today, store), lambda store=store: dashboard_figures(today=today, store=store)))
        for key, build in jobs:
            store_figures(key, build)
            keys.append(key)
    return keys


def dashboard_key(today: datetime.date, store) -> str:
    """The admin index's key figures of `store` (None: the whole chain), loyalty_crm.admin_site."""
    return f"dashboard:{today}:{store.pk if store else 'all'}"


def manager_key(today: datetime.date) -> str:
    return f"manager:{today}"


def satisfaction_key(today: datetime.date) -> str:
    return f"satisfaction:{today}"


def campaigns_key(today: datetime.date, running) -> str:
    return f"campaigns:{today}:{','.join(str(c.pk) for c in running)}"


def workspaces_for(user) -> list[str]:
    """The panels of the user's roles, in the fixed order; a superuser gets every panel."""
    if not user.is_active or not user.is_staff:
        return []
    if user.is_superuser:
        return [panel for _role, panel in WORKSPACES]
    groups = set(user.groups.values_list("name", flat=True))
    return [panel for role, panel in WORKSPACES if role in groups]


@dataclass
class Panel:
    key: str
    title: str
    context: dict = field(default_factory=dict)

    @property
    def template(self) -> str:
        return f"admin/home/{self.key}.html"


def build_panels(request) -> list[Panel]:
    """The user's panels with their figures (read from the replica when there is one)."""
    builders = {
        STORE_STAFF_PANEL: (_("At the counter"), store_staff_panel),
        SUPPORT_PANEL: (_("Service desk"), support_panel),
        MARKETING_PANEL: (_("Marketing"), marketing_panel),
        MANAGER_PANEL: (_("How the programme is doing"), manager_panel),
    }
    panels = []
    now = timezone.now()
    with replica_reads():
        for key in workspaces_for(request.user):
            title, build = builders[key]
            panels.append(Panel(key=key, title=title, context=build(request, now)))
    return panels


# --- store staff ----------------------------------------------------------------------------------


def _staff_store(user):
    """(store, chain_wide): the user's own store; users who may see every store without one of
    their own see the whole chain."""
    profile = getattr(user, "staff_profile", None)
    store = profile.store if profile is not None else None
    return store, store is None and user.has_perm(VIEW_ALL_STORES)


def store_staff_panel(request, now) -> dict:
    from campaigns.selectors.events import events_on
    from members.selectors import open_service_records, store_member_dates

    user = request.user
    today = timezone.localdate(now)
    store, chain_wide = _staff_store(user)
    context = {
        "store": store,
        "may_find": user.has_perm(VIEW_MEMBERS),
        "till_url": reverse("admin:till") if user.has_perm(POST_PURCHASES) else "",
        "returns_url": reverse("admin:till_returns") if user.has_perm(RETURN_GOODS) else "",
        "no_store": store is None and not chain_wide,
        "events": events_on(today, store=store),
        "events_url": reverse("admin:campaigns_event_changelist"),
        "today": today,
    }
    if context["no_store"] or not user.has_perm(VIEW_MEMBERS):
        return context
    dates = store_member_dates(today=today, store=store)
    service_count, service_records = open_service_records(store=store)
    context.update(
        {
            "birthdays": [d for d in dates if d.kind == "birthday"],
            "important_dates": [d for d in dates if d.kind != "birthday"],
            "service_count": service_count,
            "service_records": service_records,
            "service_url": reverse("admin:members_servicerecord_changelist")
            + "?"
            + urlencode({"status__in": "open,in_progress", **({"store__id__exact": store.pk} if store else {})}),
        }
    )
    return context


def find_member_view(request):
    """The home page's find box: a member number (typed or scanned from the card), a phone, the
    last four digits or a name, POSTed so that a phone never lands in a URL or an access log. One
    member → their page; several → the member list of just them (by member number); none → back
    to the home page with a message that does not repeat the search."""
    if not request.user.has_perm(VIEW_MEMBERS):
        raise PermissionDenied
    from members.models import Member
    from members.selectors import till_lookup

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    term = (request.POST.get("q") or "").strip()[:FIND_TERM_MAX]
    changelist = reverse("admin:members_member_changelist")
    if not term:
        return redirect(reverse("admin:index"))
    numbers = [candidate.member_no for candidate in till_lookup(term).candidates]
    if len(numbers) == 1:
        pk = Member.objects.filter(member_no=numbers[0]).values_list("pk", flat=True).first()
        return redirect(reverse("admin:members_member_change", args=[pk]))
    if numbers:
        return redirect(changelist + "?" + urlencode({"member_no__in": ",".join(numbers)}))
    messages.warning(request, _("No member found for that search. Try the phone number or the member number."))
    return redirect(reverse("admin:index"))


# --- support --------------------------------------------------------------------------------------


def _month_start(day: datetime.date, back: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _trend(this, last) -> str:
    """ "up", "down", "flat" or "" (a month without a figure)."""
    if this is None or last is None:
        return ""
    return "up" if this > last else "down" if this < last else "flat"


def satisfaction_figures(today: datetime.date):
    """(last month, this month) of CSAT and NPS (shared for FIGURES_SECONDS)."""
    from feedback.kpis import satisfaction_by_month

    return satisfaction_by_month(first_month=_month_start(today, 1), last_month=_month_start(today))


def support_panel(request, now) -> dict:
    from feedback.selectors import my_open_tickets, queue_counts

    today = timezone.localdate(now)
    tickets = reverse("admin:feedback_ticket_changelist")
    counts = queue_counts(now)
    mine_count, mine = my_open_tickets(request.user)
    (last, this), _at = cached_figures(satisfaction_key(today), lambda: satisfaction_figures(today))
    return {
        "counts": counts,
        "queue": [
            ("breached", _("Breached"), counts.breached, f"{tickets}?queue=breached"),
            ("about_to_breach", _("About to breach"), counts.about_to_breach, f"{tickets}?queue=about_to_breach"),
            ("on_time", pgettext("service level", "On time"), counts.on_time, f"{tickets}?queue=active"),
        ],
        "mine_count": mine_count,
        "mine": mine,
        "mine_url": f"{tickets}?queue=mine",
        "tickets_url": tickets,
        "satisfaction": [
            {
                "label": _("CSAT average (1–5)"),
                "this": this.csat_average,
                "last": last.csat_average,
                "answers": this.csat_count,
                "trend": _trend(this.csat_average, last.csat_average),
            },
            {
                "label": _("NPS (−100 to 100)"),
                "this": this.nps,
                "last": last.nps,
                "answers": this.nps_count,
                "trend": _trend(this.nps, last.nps),
            },
        ],
        "kpis_url": reverse("admin:feedback_servicekpi_changelist"),
    }


# --- marketing ------------------------------------------------------------------------------------


def campaign_outcomes(today: datetime.date, running) -> tuple[dict, dict]:
    """The listed campaigns' outbox counts and lifts (slow-moving: shared for FIGURES_SECONDS)."""
    from campaigns.analytics import campaign_lifts
    from campaigns.selectors.campaigns import results_for

    first = today - datetime.timedelta(days=LIFT_DAYS - 1)
    lifts = {lift.campaign_id: lift for lift in campaign_lifts(first, today, campaign_ids=[c.pk for c in running])}
    return results_for(running), lifts


def marketing_panel(request, now) -> dict:
    from campaigns.models import Channel
    from campaigns.selectors.automations import next_runs
    from campaigns.selectors.campaigns import (
        contact_policy,
        handed_to_channels_on,
        running_campaigns,
        segments_by_size,
    )

    today = timezone.localdate(now)
    running_count, running = running_campaigns()
    (results, lifts), _at = (
        cached_figures(campaigns_key(today, running), lambda: campaign_outcomes(today, running))
        if running
        else (({}, {}), None)
    )
    campaigns = [
        {"campaign": campaign, "results": results.get(campaign.pk), "lift": lifts.get(campaign.pk)}
        for campaign in running
    ]
    segment_count, segments = segments_by_size()
    policy = contact_policy()
    used = handed_to_channels_on(today)
    budget = []
    for channel, label in Channel.choices:
        limit = policy.daily_budget_for(channel)
        count = used.get(channel, 0)
        budget.append(
            {
                "channel": channel,
                "label": label,
                "used": count,
                "budget": limit,
                "percent": min(100, round(count * 100 / limit)) if limit else None,
                "over": bool(limit) and count >= limit,
            }
        )
    return {
        "campaigns": campaigns,
        "running_count": running_count,
        "campaigns_url": reverse("admin:campaigns_campaign_changelist"),
        "add_campaign_url": reverse("admin:campaigns_campaign_add"),
        "segments": segments,
        "segment_count": segment_count,
        "segments_url": reverse("admin:campaigns_segment_changelist"),
        "add_segment_url": reverse("admin:campaigns_segment_add"),
        "next_runs": next_runs(today=today),
        "automations_url": reverse("admin:campaigns_automation_changelist"),
        "budget": budget,
        "policy_url": reverse("admin:campaigns_contactpolicy_changelist"),
        "lift_days": LIFT_DAYS,
    }


# --- manager --------------------------------------------------------------------------------------


def _percent(rate) -> Decimal | None:
    return None if rate is None else (Decimal(str(rate)) * 100).quantize(Decimal("0.1"))


def _kpi(*, key, label, series, goal, lower_is_better, color, unit="") -> dict:
    """One KPI card: this month, last month, the trend, the target and a line chart of the months."""
    values = [value for _month, value in series]
    this, last = values[-1], values[-2] if len(values) > 1 else None
    trend = _trend(this, last)
    good = "" if not trend or trend == "flat" else ("good" if (trend == "down") == lower_is_better else "bad")
    met = None
    if goal is not None and this is not None:
        met = this <= goal if lower_is_better else this >= goal
    target_label = _("target %(value)s") % {"value": f"{goal}{unit}"} if goal is not None else ""
    return {
        "key": key,
        "label": label,
        "this": this,
        "last": last,
        "trend": trend,
        "good": good,
        "goal": goal,
        "met": met,
        "unit": unit,
        "svg": line_chart(
            labels=[month.strftime("%y-%m") for month, _value in series],
            values=values,
            target=goal,
            target_label=target_label,
            title=label,
            color=color,
            empty_text=_("No figures in these months yet."),
        ),
    }


def manager_figures(today: datetime.date, now: datetime.datetime) -> dict:
    """The manager's slow-moving figures (shared for FIGURES_SECONDS): the service KPIs and their
    targets, the repurchase rate and its target (one computation of the series), the points and
    stored-value liabilities and members' share of this month's sales."""
    from campaigns.reports import repurchase_with_target
    from feedback.kpis import monthly_kpis, target_lines
    from members.analytics import members_vs_walk_ins
    from rewards.analytics import outstanding_liability
    from rewards.selectors_stored_value import liability_totals

    first = _month_start(today, KPI_MONTHS - 1)
    service = monthly_kpis(first_month=first, last_month=_month_start(today), now=now)
    repurchase, repurchase_target = repurchase_with_target(months=KPI_MONTHS, today=today)
    return {
        "service": service,
        "service_targets": target_lines(series=service, now=now),
        "repurchase": repurchase,
        "repurchase_target": repurchase_target,
        "liability": outstanding_liability(today),
        "sales": members_vs_walk_ins(_month_start(today), today),
        "stored_value": liability_totals(),
    }


def manager_panel(request, now) -> dict:
    from feedback.models import KpiTarget

    today = timezone.localdate(now)
    may_see_stored_value = request.user.has_perm(VIEW_STORED_VALUE_LIABILITY)
    data, computed_at = cached_figures(manager_key(today), lambda: manager_figures(today, now))
    service, service_targets = data["service"], data["service_targets"]
    repurchase, repurchase_target = data["repurchase"], data["repurchase_target"]

    def goal_of(metric):
        line = service_targets.get(metric)
        return line.value if line is not None else None

    kpis = [
        _kpi(
            key="repurchase",
            label=_("Repurchase rate of members (%)"),
            series=[(m.month, _percent(m.repurchase_rate)) for m in repurchase],
            goal=_percent(repurchase_target.goal) if repurchase_target else None,
            lower_is_better=False,
            color="#2e6da4",
            unit="%",
        ),
        _kpi(
            key="complaints",
            label=_("Complaint rate (per 100 purchases)"),
            series=[(m.month, m.complaint_rate) for m in service],
            goal=goal_of(KpiTarget.Metric.COMPLAINT_RATE),
            lower_is_better=True,
            color="#b8326a",
        ),
        _kpi(
            key="satisfaction",
            label=_("CSAT average (1–5)"),
            series=[(m.month, m.csat_average) for m in service],
            goal=goal_of(KpiTarget.Metric.CSAT),
            lower_is_better=False,
            color="#067647",
        ),
    ]
    context = {
        "kpis": kpis,
        "liability": data["liability"],
        "sales": data["sales"],
        "member_share": _percent(data["sales"].member_share_of_sales),
        "stored_value": data["stored_value"] if may_see_stored_value else None,
        "computed_at": computed_at,
        "refresh_minutes": FIGURES_SECONDS // 60,
        "kpi_targets_url": reverse("admin:feedback_kpitarget_changelist"),
        "campaign_targets_url": reverse("admin:campaigns_campaignkpitarget_changelist"),
        "analytics_url": reverse("admin:campaigns_programme_analytics"),
    }
    return context
