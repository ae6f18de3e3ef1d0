"""Service KPIs per store and month, and the targets managers set for them.

- complaint rate: complaint tickets per 100 purchases (purchases read through
  `members.selectors.purchase_counts_by_store_month`);
- median first response and median resolution time of the tickets created in the month, counted
  from when the customer reached us (`contacted_at`);
- SLA breach rate: share of the month's tickets with a target that missed their first-response
  or resolution target (answered late, or still unanswered/unresolved past the target now);
- CSAT average (1–5) and NPS (% promoters 9–10 − % detractors 0–6) of the answers given in
  the month; CSAT counts for the ticket's store, NPS for the member's home store.

Counts and sums are grouped in the database (one query each for tickets, purchases and survey
answers); the medians come from one more query of the month's durations. Months follow the
project's time zone.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from feedback import sla
from feedback.models import KpiTarget, SurveyResponse, Ticket
from members.selectors import purchase_counts_by_store_month

ALL = "all"
M = KpiTarget.Metric
LOWER_IS_BETTER = {M.COMPLAINT_RATE, M.FIRST_RESPONSE, M.RESOLUTION, M.BREACH_RATE}


def month_start(day: datetime.date, months_back: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def next_month(month: datetime.date) -> datetime.date:
    return month_start(month, -1)


def months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def _aware(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


def _round(value, places: str = "0.01") -> Decimal | None:
    if value is None:
        return None
    return Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP)


@dataclass
class MonthKpis:
    month: datetime.date
    tickets: int = 0
    complaints: int = 0
    purchases: int = 0
    targeted: int = 0
    breached: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    nps_count: int = 0
    promoters: int = 0
    detractors: int = 0
    first_responses: list[float] = field(default_factory=list, repr=False)  # seconds
    resolutions: list[float] = field(default_factory=list, repr=False)

    @property
    def complaint_rate(self) -> Decimal | None:
        return _round(Decimal(self.complaints) * 100 / self.purchases) if self.purchases else None

    @property
    def first_response_minutes(self) -> Decimal | None:
        return _round(statistics.median(self.first_responses) / 60) if self.first_responses else None

    @property
    def resolution_hours(self) -> Decimal | None:
        return _round(statistics.median(self.resolutions) / 3600) if self.resolutions else None

    @property
    def breach_rate(self) -> Decimal | None:
        return _round(Decimal(self.breached) * 100 / self.targeted) if self.targeted else None

    @property
    def csat_average(self) -> Decimal | None:
        return _round(Decimal(self.csat_sum) / self.csat_count) if self.csat_count else None

    @property
    def nps(self) -> Decimal | None:
        if not self.nps_count:
            return None
        return _round(Decimal(self.promoters - self.detractors) * 100 / self.nps_count, "0.1")

    def value(self, metric: str) -> Decimal | None:
        return getattr(self, METRIC_ATTRIBUTES[metric])


METRIC_ATTRIBUTES = {
    M.COMPLAINT_RATE: "complaint_rate",
    M.FIRST_RESPONSE: "first_response_minutes",
    M.RESOLUTION: "resolution_hours",
    M.BREACH_RATE: "breach_rate",
    M.CSAT: "csat_average",
    M.NPS: "nps",
}


def breached_condition(now: datetime.datetime) -> Q:
    """A ticket that missed a target: answered or resolved after the due instant, or still waiting
    at or past it (`feedback.sla.missed_q`, the one definition)."""
    return sla.missed_q(now)


def kpis_by_store(
    *, first_month: datetime.date, last_month: datetime.date, now: datetime.datetime | None = None
) -> dict[object, list[MonthKpis]]:
    """Every month from first to last (inclusive), per store id (None: tickets without a store)
    and for all stores together under the key `ALL`."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    months = months_between(first_month, last_month)
    start, end = _aware(months[0]), _aware(next_month(months[-1]))
    table: dict[object, dict[datetime.date, MonthKpis]] = defaultdict(dict)

    def cell(store_id, month) -> list[MonthKpis]:
        return [
            table[key].setdefault(month, MonthKpis(month=month))
            for key in ((ALL, store_id) if store_id is not None else (ALL, None))
        ]

    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        month=TruncMonth("created_at", tzinfo=tz)
    )
    for row in (
        tickets.values("store_id", "month")
        .annotate(
            n=Count("id"),
            complaints=Count("id", filter=Q(kind=Ticket.Kind.COMPLAINT)),
            targeted=Count("id", filter=Q(first_response_due__isnull=False) | Q(resolution_due__isnull=False)),
            breached=Count("id", filter=breached_condition(now)),
        )
        .order_by()
    ):
        for kpis in cell(row["store_id"], row["month"].date()):
            kpis.tickets += row["n"]
            kpis.complaints += row["complaints"]
            kpis.targeted += row["targeted"]
            kpis.breached += row["breached"]

    duration = DurationField()
    for store_id, month, first, resolution in (
        tickets.filter(Q(first_response_at__isnull=False) | Q(resolved_at__isnull=False))
        .annotate(
            first=ExpressionWrapper(F("first_response_at") - F("contacted_at"), output_field=duration),
            resolution=ExpressionWrapper(F("resolved_at") - F("contacted_at"), output_field=duration),
        )
        .values_list("store_id", "month", "first", "resolution")
        .order_by()
    ):
        for kpis in cell(store_id, month.date()):
            if first is not None:
                kpis.first_responses.append(first.total_seconds())
            if resolution is not None:
                kpis.resolutions.append(resolution.total_seconds())

    for (store_id, month), count in purchase_counts_by_store_month(start=start, end=end).items():
        for kpis in cell(store_id, month):
            kpis.purchases += count

    for row in _survey_rows(start, end):
        for kpis in cell(row["store_id"], row["month"].date()):
            _add_survey_row(kpis, row)

    keys = set(table) | {ALL}
    return {key: [table[key].get(month) or MonthKpis(month=month) for month in months] for key in keys}


def _survey_rows(start: datetime.datetime, end: datetime.datetime):
    """CSAT and NPS answers given in [start, end), grouped by store, month and kind (one query)."""
    return (
        SurveyResponse.objects.filter(
            created_at__gte=start, created_at__lt=end, kind__in=[SurveyResponse.Kind.CSAT, SurveyResponse.Kind.NPS]
        )
        .annotate(month=TruncMonth("created_at", tzinfo=timezone.get_current_timezone()))
        .values("store_id", "month", "kind")
        .annotate(
            n=Count("id"),
            total=Sum("score"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
        .order_by()
    )


def _add_survey_row(kpis: MonthKpis, row: dict) -> None:
    if row["kind"] == SurveyResponse.Kind.CSAT:
        kpis.csat_count += row["n"]
        kpis.csat_sum += row["total"] or 0
    else:
        kpis.nps_count += row["n"]
        kpis.promoters += row["promoters"]
        kpis.detractors += row["detractors"]


def satisfaction_by_month(*, first_month: datetime.date, last_month: datetime.date) -> list[MonthKpis]:
    """CSAT and NPS of all stores for each month from first to last (the same answers and arithmetic
    as `kpis_by_store`, without its ticket and purchase figures): one query."""
    months = months_between(first_month, last_month)
    table = {month: MonthKpis(month=month) for month in months}
    for row in _survey_rows(_aware(months[0]), _aware(next_month(months[-1]))):
        kpis = table.get(row["month"].date())
        if kpis is not None:
            _add_survey_row(kpis, row)
    return list(table.values())


def monthly_kpis(
    *, first_month: datetime.date, last_month: datetime.date, store=None, now: datetime.datetime | None = None
) -> list[MonthKpis]:
    """The KPIs of one store (or of all stores with `store=None`) for each month."""
    table = kpis_by_store(first_month=first_month, last_month=last_month, now=now)
    key = ALL if store is None else store.pk
    return table.get(key) or [MonthKpis(month=m) for m in months_between(first_month, last_month)]


# --- targets ----------------------------------------------------------------------------------


@dataclass
class TargetLine:
    metric: str
    target: KpiTarget
    value: Decimal | None  # the value to reach (None: the baseline month has no figure yet)
    baseline: Decimal | None = None
    latest: Decimal | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    @property
    def met(self) -> bool | None:
        if self.value is None or self.latest is None:
            return None
        return self.latest <= self.value if self.lower_is_better else self.latest >= self.value

    def describe(self) -> str:
        target = self.target
        if target.target_value is not None:
            text = _("reach %(value)s") % {"value": target.target_value}
        else:
            text = _("%(change)s%% versus %(month)s (%(baseline)s)") % {
                "change": f"{target.change_percent:+g}",
                "month": target.baseline_month.strftime("%Y-%m"),
                "baseline": "—" if self.baseline is None else self.baseline,
            }
        if target.due_month:
            text += " " + _("by %(month)s") % {"month": target.due_month.strftime("%Y-%m")}
        return text


def target_lines(*, store=None, series: list[MonthKpis], now: datetime.datetime | None = None) -> dict[str, TargetLine]:
    """The target of each metric for a store (its own, else the all-stores target applied to the
    store's own baseline) or for all stores; a change is applied to the baseline month's value."""
    targets = {t.metric: t for t in KpiTarget.objects.filter(store__isnull=True)}
    if store is not None:
        targets.update({t.metric: t for t in KpiTarget.objects.filter(store=store)})
    by_month = {kpis.month: kpis for kpis in series}
    baselines: dict[datetime.date, MonthKpis] = {}
    for target in targets.values():
        month = target.baseline_month
        if target.target_value is None and month and month not in by_month and month not in baselines:
            baselines[month] = monthly_kpis(first_month=month, last_month=month, store=store, now=now)[0]
    lines = {}
    latest = next((k for k in reversed(series) if k.tickets or k.purchases or k.csat_count or k.nps_count), None)
    for metric, target in targets.items():
        baseline = None
        if target.target_value is not None:
            value = target.target_value
        else:
            source = by_month.get(target.baseline_month) or baselines.get(target.baseline_month)
            baseline = source.value(metric) if source else None
            value = None if baseline is None else _round(baseline * (1 + target.change_percent / 100))
        lines[metric] = TargetLine(
            metric=metric,
            target=target,
            value=value,
            baseline=baseline,
            latest=latest.value(metric) if latest else None,
        )
    return lines
