"""KPI arithmetic against hand-computed figures (Asia/Shanghai months)."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import kpis, services, surveys
from feedback.models import KpiTarget
from tests.feedback.factories import ticket
from tests.members import factories as mf

pytestmark = pytest.mark.django_db

SH_TZ = ZoneInfo("Asia/Shanghai")
T = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SH_TZ)
NOW = datetime.datetime(2026, 4, 1, 12, 0, tzinfo=SH_TZ)
MARCH, FEB = datetime.date(2026, 3, 1), datetime.date(2026, 2, 1)
MIN, H = datetime.timedelta(minutes=1), datetime.timedelta(hours=1)


def at(moment, call, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return call(*args, **kwargs)


def answered(made, after, actor):
    """The first response: a call (these tickets have no contact a reply could be sent to)."""
    at(T + after, services.record_call, ticket=made, actor=actor, called_at=T + after, note="您好")


def resolved(made, after, actor):
    at(T + after, services.change_status, ticket=made, to="open", actor=actor)
    at(T + after, services.change_status, ticket=made, to="resolved", actor=actor)


@pytest.fixture
def shop(support):
    sh = mf.store("sh-001", "上海店")
    bj = mf.store("bj-001", "北京店")
    buyer = mf.member(phone="13100000001", home_store=sh)
    for day in (1, 2, 3):
        mf.purchase(buyer, ordered_at=datetime.datetime(2026, 3, day, 12, tzinfo=SH_TZ), store=sh)
    mf.purchase(buyer, ordered_at=datetime.datetime(2026, 3, 31, 23, 50, tzinfo=SH_TZ), store=sh)  # March locally
    mf.purchase(buyer, ordered_at=datetime.datetime(2026, 4, 1, 0, 10, tzinfo=SH_TZ), store=sh)  # April
    mf.purchase(buyer, ordered_at=datetime.datetime(2026, 2, 14, 12, tzinfo=SH_TZ), store=sh)
    for day in (5, 6):
        mf.purchase(buyer, ordered_at=datetime.datetime(2026, 3, day, 12, tzinfo=SH_TZ), store=bj)

    a = at(T, ticket, kind="complaint", store=sh, email="a@example.com")
    b = at(T, ticket, kind="complaint", store=sh)
    c = at(T, ticket, kind="praise", store=sh)
    d = at(T, ticket, kind="complaint", store=bj)
    at(T, ticket, kind="complaint")  # no store, never answered
    at(datetime.datetime(2026, 2, 28, 23, 30, tzinfo=SH_TZ), ticket, kind="question", store=sh)  # February
    answered(a, 10 * MIN, support)
    answered(b, 30 * MIN, support)
    answered(c, 50 * MIN, support)
    answered(d, 20 * MIN, support)
    resolved(a, 2 * H, support)
    resolved(b, 6 * H, support)

    day_after = T + 24 * H
    at(day_after, surveys.record_survey_response, token=surveys.csat_token(a), kind="csat", score=5)
    at(day_after, surveys.record_survey_response, token=surveys.csat_token(b), kind="csat", score=2)
    for score, home in ((10, sh), (9, sh), (7, sh), (3, sh), (6, bj)):
        member = mf.member(home_store=home)
        token_link = surveys.nps_survey_link(member=member)
        token = token_link.rstrip("/").rsplit("/", 1)[1]
        at(day_after, surveys.record_survey_response, token=token, kind="nps", score=score)
    return {"sh": sh, "bj": bj}


def march(table, key):
    return next(m for m in table[key] if m.month == MARCH)


def test_complaint_rate_is_complaints_per_100_purchases(shop):
    table = kpis.kpis_by_store(first_month=FEB, last_month=MARCH, now=NOW)
    assert march(table, shop["sh"].pk).complaint_rate == Decimal("50.00")  # 2 / 4
    assert march(table, shop["bj"].pk).complaint_rate == Decimal("50.00")  # 1 / 2
    assert march(table, kpis.ALL).complaint_rate == Decimal("66.67")  # 4 / 6
    february = table[shop["sh"].pk][0]
    assert (february.month, february.purchases, february.tickets, february.complaint_rate) == (
        FEB,
        1,
        1,
        Decimal("0.00"),
    )


def test_median_first_response_and_resolution(shop):
    table = kpis.kpis_by_store(first_month=MARCH, last_month=MARCH, now=NOW)
    assert march(table, shop["sh"].pk).first_response_minutes == Decimal("30.00")  # 10, 30, 50
    assert march(table, kpis.ALL).first_response_minutes == Decimal("25.00")  # 10, 20, 30, 50
    assert march(table, shop["sh"].pk).resolution_hours == Decimal("4.00")  # 2, 6
    assert march(table, shop["bj"].pk).resolution_hours is None


def test_sla_breach_rate(shop):
    table = kpis.kpis_by_store(first_month=MARCH, last_month=MARCH, now=NOW)
    # 48 h passed unresolved: the praise (sh), the bj complaint and the storeless one (also unanswered).
    assert march(table, shop["sh"].pk).breach_rate == Decimal("33.33")
    assert march(table, shop["bj"].pk).breach_rate == Decimal("100.00")
    assert march(table, kpis.ALL).breach_rate == Decimal("60.00")
    early = kpis.kpis_by_store(first_month=MARCH, last_month=MARCH, now=T + 3 * H)
    assert march(early, kpis.ALL).breach_rate == Decimal("0.00")


def test_csat_average_and_nps(shop):
    table = kpis.kpis_by_store(first_month=MARCH, last_month=MARCH, now=NOW)
    sh, bj, everyone = march(table, shop["sh"].pk), march(table, shop["bj"].pk), march(table, kpis.ALL)
    assert (sh.csat_count, sh.csat_average) == (2, Decimal("3.50"))
    assert sh.nps == Decimal("25.0")  # promoters 2, detractors 1, of 4
    assert bj.nps == Decimal("-100.0")
    assert everyone.nps == Decimal("0.0")  # 2 promoters, 2 detractors of 5


def test_months_without_data_have_no_figures():
    series = kpis.monthly_kpis(first_month=FEB, last_month=MARCH)
    assert [m.month for m in series] == [FEB, MARCH]
    assert all(m.complaint_rate is None and m.nps is None and m.first_response_minutes is None for m in series)


def test_query_count_does_not_grow_with_tickets(shop, support):
    with CaptureQueriesContext(connection) as few:
        kpis.kpis_by_store(first_month=FEB, last_month=MARCH, now=NOW)
    for _i in range(20):
        made = at(T, ticket, store=shop["sh"])
        answered(made, 5 * MIN, support)
    with CaptureQueriesContext(connection) as many:
        kpis.kpis_by_store(first_month=FEB, last_month=MARCH, now=NOW)
    assert len(many) == len(few) <= 4


def test_target_as_change_versus_a_baseline_month(shop, manager):
    KpiTarget.objects.create(metric="complaint_rate", baseline_month=MARCH, change_percent=Decimal("-30"))
    series = kpis.monthly_kpis(first_month=FEB, last_month=MARCH, now=NOW)
    line = kpis.target_lines(series=series, now=NOW)["complaint_rate"]
    assert line.baseline == Decimal("66.67") and line.value == Decimal("46.67")
    assert line.met is False  # March itself is the latest month: 66.67 > 46.67


def test_store_target_overrides_and_all_store_change_uses_the_stores_baseline(shop):
    KpiTarget.objects.create(metric="complaint_rate", baseline_month=MARCH, change_percent=Decimal("-30"))
    KpiTarget.objects.create(metric="csat", store=shop["sh"], target_value=Decimal("3.00"))
    series = kpis.monthly_kpis(first_month=MARCH, last_month=MARCH, store=shop["sh"], now=NOW)
    lines = kpis.target_lines(store=shop["sh"], series=series, now=NOW)
    assert lines["complaint_rate"].value == Decimal("35.00")  # 50.00 × 0.7
    assert lines["csat"].value == Decimal("3.00") and lines["csat"].met is True  # 3.50 ≥ 3.00


def test_baseline_outside_the_window_is_computed(shop):
    KpiTarget.objects.create(metric="complaint_rate", store=shop["sh"], baseline_month=FEB, change_percent=-30)
    series = kpis.monthly_kpis(first_month=MARCH, last_month=MARCH, store=shop["sh"], now=NOW)
    assert kpis.target_lines(store=shop["sh"], series=series, now=NOW)["complaint_rate"].value == Decimal("0.00")


def test_target_needs_a_value_or_a_baseline_change():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        KpiTarget(metric="csat").full_clean()
    with pytest.raises(ValidationError):
        KpiTarget(metric="nps", baseline_month=MARCH, change_percent=10).full_clean()
    KpiTarget(metric="csat", baseline_month=datetime.date(2026, 3, 17), change_percent=10).full_clean()
