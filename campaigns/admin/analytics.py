"""The "Programme analytics" page (managers: `rewards.view_programme_analytics`): points issued,
redeemed and expired per month with the redemption rate, breakage and the liability; members
against walk-ins; cohort retention as a heat map; the programme's return with its assumptions.
A period picker (from/to, or a preset); a fixed number of queries whatever the shop's size.
Served from the campaigns admin (`CampaignAdmin.get_urls`)."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.analytics import MAX_DAYS, PERMISSION, daily_series, default_period, programme_roi, series_range
from loyalty_crm.charts import heat_map, line_chart
from loyalty_crm.db_routing import replica_reads
from members.analytics import add_months, members_vs_walk_ins, retention_matrix
from rewards.analytics import outstanding_liability, points_by_month, points_summary

MAX_CHART_MONTHS = 36


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start of the period is after its end."))
        if start and end and (end - start).days > MAX_DAYS:
            raise forms.ValidationError(_("A period is at most ten years."))
        return data


def presets(today: datetime.date) -> list[tuple[str, datetime.date, datetime.date]]:
    this_month = today.replace(day=1)
    return [
        (gettext("This month"), this_month, today),
        (gettext("Last month"), add_months(this_month, -1), this_month - datetime.timedelta(days=1)),
        (gettext("Last 3 months"), add_months(this_month, -2), today),
        (gettext("Last 12 months"), add_months(this_month, -11), today),
        (gettext("This year"), today.replace(month=1, day=1), today),
    ]


def programme_analytics_view(model_admin, request):
    with replica_reads():  # the figures from the read replica when there is one (loyalty_crm.db_routing)
        return _programme_analytics_view(model_admin, request)


def _programme_analytics_view(model_admin, request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    today = timezone.localdate()
    start, end = default_period(today)
    form = PeriodForm(request.GET or None, initial={"start": start, "end": end})
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    elif not form.is_bound:
        form = PeriodForm(initial={"start": start, "end": end})

    summary = points_summary(start, end, today=today)
    chart_start = max(start.replace(day=1), add_months(end.replace(day=1), -(MAX_CHART_MONTHS - 1)))
    months = points_by_month(chart_start, end)
    labels = [month.start.strftime("%y-%m") for month in months]
    points_charts = [
        (title, line_chart(labels=labels, values=[getattr(m, name) for m in months], title=title, color=color))
        for name, title, color in (
            ("issued", gettext("Points issued"), "#b8326a"),
            ("redeemed", gettext("Points redeemed"), "#175cd3"),
            ("expired", gettext("Points expired"), "#b54708"),
        )
    ]
    liability = outstanding_liability(today)
    sales = members_vs_walk_ins(start, end)
    retention = retention_matrix(max(start, add_months(end.replace(day=1), -(MAX_CHART_MONTHS - 1))), end)
    columns = [str(k) for k in range(retention.width)]
    retention_chart = heat_map(
        row_labels=[cohort.month.strftime("%Y-%m") for cohort in retention.cohorts],
        row_notes=[str(cohort.size) for cohort in retention.cohorts],
        column_labels=columns,
        values=[cohort.rates for cohort in retention.cohorts],
        title=gettext("Cohort retention"),
        empty_text=gettext("No member joined in this period."),
    )
    roi = programme_roi(start, end)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": gettext("Programme analytics"),
        "form": form,
        "start": start,
        "end": end,
        "presets": presets(today),
        "summary": summary,
        "months": months,
        "points_charts": points_charts,
        "liability": liability,
        "sales": sales,
        "retention": retention,
        "retention_chart": retention_chart,
        "roi": roi,
        "can_edit_assumptions": request.user.has_perm("rewards.change_programmeassumptions"),
        "assumptions_url": reverse("admin:rewards_programmeassumptions_changelist"),
    }
    return TemplateResponse(request, "admin/campaigns/campaign/programme_analytics.html", context)


def daily_charts(campaign) -> dict | None:
    """The campaign results page's daily series (sent, participants, points redemptions, coupons
    used), one line chart each; None before the campaign started. Five queries."""
    days = series_range(campaign)
    if days is None:
        return None
    series = daily_series(campaign, *days)
    labels = [day.day.strftime("%m-%d") for day in series.days]
    tick = max(1, len(labels) // 10)
    return {
        "start": series.start,
        "end": series.end,
        "charts": [
            (title, line_chart(labels=labels, values=series.values(name), title=title, color=color, tick_every=tick))
            for name, title, color in (
                ("sent", gettext("Messages sent"), "#5f6670"),
                ("participants", gettext("Participants"), "#b8326a"),
                ("redemptions", gettext("Points redemptions"), "#175cd3"),
                ("coupons_used", gettext("Coupons used"), "#067647"),
            )
        ],
    }


def picked_month(value: str | None, today: datetime.date) -> tuple[datetime.date, str]:
    """The monthly review's `?month=YYYY-MM`: the last day of that month shown (today for this
    month), and an error sentence for a month that is not one or lies in the future (today then)."""
    if not value:
        return today, ""
    try:
        first = datetime.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return today, gettext("Choose a month as YYYY-MM.")
    if first.year < 2000 or first > today:
        return today, gettext("Choose a month from 2000 up to this one.")
    return min(today, add_months(first, 1) - datetime.timedelta(days=1)), ""


def as_shown(value) -> str:
    """A figure as the screen shows it: a rate as a whole percentage ("67%", like the page's
    widthratio), nothing as "", the rest as is."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{round(value * 100)}%"
    return str(value)
