"""The admin's "Service KPIs" page and its CSV export (feedback.kpis does the arithmetic)."""

from __future__ import annotations

import csv

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from feedback import kpis, topic_kpis
from feedback.models import KpiTarget
from loyalty_crm.charts import line_chart
from loyalty_crm.db_routing import reads_from_replica
from members.models import Store

MONTHS = 12
M = KpiTarget.Metric


def _metrics():
    # Labels at call time, in the request's language.
    return [
        (M.COMPLAINT_RATE, _("Complaint rate (per 100 purchases)"), "#b8326a"),
        (M.FIRST_RESPONSE, _("Median first response (minutes)"), "#2e6da4"),
        (M.RESOLUTION, _("Median resolution (hours)"), "#6941c6"),
        (M.BREACH_RATE, _("SLA breach rate (%)"), "#b54708"),
        (M.CSAT, _("CSAT average (1–5)"), "#067647"),
        (M.NPS, _("NPS (−100 to 100)"), "#175cd3"),
    ]


def _window():
    last = kpis.month_start(timezone.localdate())
    return kpis.month_start(last, MONTHS - 1), last


@reads_from_replica
def kpi_page(request, site_context: dict, opts):
    stores = list(Store.objects.order_by("name"))
    store = next((s for s in stores if str(s.pk) == request.GET.get("store", "")), None)
    first, last = _window()
    if request.GET.get("format") == "csv":
        return _csv(first, last, store, stores)
    now = timezone.now()
    series = kpis.monthly_kpis(first_month=first, last_month=last, store=store, now=now)
    targets = kpis.target_lines(store=store, series=series, now=now)
    labels = [m.month.strftime("%y-%m") for m in series]
    charts = []
    for metric, label, color in _metrics():
        line = targets.get(metric)
        target_label = ""
        if line is not None and line.value is not None:
            target_label = _("target %(value)s") % {"value": line.value}
        charts.append(
            {
                "metric": metric,
                "label": label,
                "latest": next((m.value(metric) for m in reversed(series) if m.value(metric) is not None), None),
                "target": line,
                "svg": line_chart(
                    labels=labels,
                    values=[m.value(metric) for m in series],
                    target=line.value if line else None,
                    target_label=target_label,
                    title=label,
                    color=color,
                    empty_text=_("No figures in these months yet."),
                ),
            }
        )
    context = {
        **site_context,
        "opts": opts,
        "title": _("Service KPIs"),
        "stores": stores,
        "store": store,
        "series": series,
        "charts": charts,
        "metrics": _metrics(),
        "can_set_targets": request.user.has_perm("feedback.change_kpitarget"),
        "topics": topic_kpis.complaints_by_topic(first_month=first, last_month=last, store=store),
    }
    return TemplateResponse(request, "admin/feedback/service_kpis.html", context)


def _csv(first, last, store, stores) -> HttpResponse:
    table = kpis.kpis_by_store(first_month=first, last_month=last)
    names = {s.pk: s.name for s in stores}
    keys = [store.pk] if store else [kpis.ALL, *[s.pk for s in stores], None]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    suffix = store.code if store else "all"
    response["Content-Disposition"] = f'attachment; filename="service-kpis-{suffix}-{last:%Y-%m}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8 (Chinese store names)
    writer = csv.writer(response)
    writer.writerow(
        [
            "store", "month", "tickets", "complaints", "purchases", "complaint_rate_per_100",
            "median_first_response_minutes", "median_resolution_hours", "sla_breach_rate_percent",
            "csat_average", "csat_answers", "nps", "nps_answers",
        ]
    )  # fmt: skip
    for key in keys:
        if key not in table:
            continue
        label = _text(_("All stores") if key == kpis.ALL else names.get(key, _("No store")))
        for m in table[key]:
            writer.writerow(
                [
                    label, m.month.strftime("%Y-%m"), m.tickets, m.complaints, m.purchases,
                    _cell(m.complaint_rate), _cell(m.first_response_minutes), _cell(m.resolution_hours),
                    _cell(m.breach_rate), _cell(m.csat_average), m.csat_count, _cell(m.nps), m.nps_count,
                ]
            )  # fmt: skip
    return response


def _text(value: str) -> str:
    # Spreadsheets run a cell starting with = + - @ as a formula; store names are typed by staff.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _cell(value) -> str:
    return "" if value is None else str(value)
