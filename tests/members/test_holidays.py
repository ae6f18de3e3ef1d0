"""The holiday calendar's date rules (members.holidays) and the seeded Chinese set."""

import datetime
from types import SimpleNamespace

import pytest

from members import holidays, selectors
from members.models import Holiday


def _h(code, rule, month, day, weekday=None, days_off=0):
    return SimpleNamespace(code=code, name=code, rule=rule, month=month, day=day, weekday=weekday, lead_days=7,
                           days_off=days_off)  # fmt: skip


def test_fixed_lunar_and_weekday_rules():
    assert holidays.date_in_year(rule="fixed", month=5, day=20, weekday=None, year=2027) == datetime.date(2027, 5, 20)
    # 春节 2027 and 2028, 中秋 2027, 七夕 2026 (published calendars)
    assert holidays.date_in_year(rule="lunar", month=1, day=1, weekday=None, year=2027) == datetime.date(2027, 2, 6)
    assert holidays.date_in_year(rule="lunar", month=1, day=1, weekday=None, year=2028) == datetime.date(2028, 1, 26)
    assert holidays.date_in_year(rule="lunar", month=8, day=15, weekday=None, year=2027) == datetime.date(2027, 9, 15)
    assert holidays.date_in_year(rule="lunar", month=7, day=7, weekday=None, year=2026) == datetime.date(2026, 8, 19)
    # Mother's Day: the 2nd Sunday of May; a "5th Sunday" of a month with four is its last
    assert holidays.date_in_year(rule="nth_weekday", month=5, day=2, weekday=6, year=2027) == datetime.date(2027, 5, 9)
    assert holidays.date_in_year(rule="nth_weekday", month=2, day=5, weekday=6, year=2027) == datetime.date(2027, 2, 28)
    # 29 February in a common year falls on the 28th
    assert holidays.date_in_year(rule="fixed", month=2, day=29, weekday=None, year=2027) == datetime.date(2027, 2, 28)


def test_occurrences_span_years_and_days_off():
    rows = [_h("spring", "lunar", 1, 1, days_off=3), _h("xmas", "fixed", 12, 25)]
    found = holidays.occurrences(rows, datetime.date(2026, 12, 1), datetime.date(2027, 2, 28))
    assert [(h.code, h.on) for h in found] == [("xmas", datetime.date(2026, 12, 25)),
                                              ("spring", datetime.date(2027, 2, 6))]  # fmt: skip
    assert holidays.days_off(rows, datetime.date(2027, 2, 7), datetime.date(2027, 2, 10)) == {
        datetime.date(2027, 2, 7), datetime.date(2027, 2, 8)}  # fmt: skip
    assert holidays.next_date(rows[1], datetime.date(2026, 12, 26)) == datetime.date(2027, 12, 25)


@pytest.mark.django_db
def test_seeded_calendar_and_switching_one_off():
    codes = set(Holiday.objects.values_list("code", flat=True))
    assert {"spring_festival", "lantern", "womens_day", "day_520", "mothers_day", "qixi", "mid_autumn",
            "teachers_day", "christmas"} <= codes  # fmt: skip
    year = [h.code for h in selectors.holidays_between(datetime.date(2027, 1, 1), datetime.date(2027, 12, 31))]
    assert "qixi" in year and len(year) == len(codes)
    Holiday.objects.filter(code="qixi").update(is_active=False)
    assert "qixi" not in [h.code for h in selectors.holidays_between(datetime.date(2027, 1, 1),
                                                                      datetime.date(2027, 12, 31))]  # fmt: skip
    assert datetime.date(2027, 10, 2) in selectors.public_days_off(
        datetime.date(2027, 9, 1), datetime.date(2027, 10, 31)
    )
