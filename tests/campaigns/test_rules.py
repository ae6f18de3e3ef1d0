"""Pure rules: quiet hours (a window spanning midnight, in Shanghai time) and the control group."""

import datetime
import zoneinfo

import pytest

from campaigns import rules

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NINE_PM, NINE_AM = datetime.time(21), datetime.time(9)


def at(hour, minute=0, day=10):
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(
    ("when", "quiet"),
    [(at(20, 59), False), (at(21, 0), True), (at(23, 30), True), (at(3), True), (at(8, 59), True), (at(9), False)],
)
def test_quiet_hours_span_midnight(when, quiet):
    assert rules.in_quiet_hours(when, start=NINE_PM, end=NINE_AM, tz="Asia/Shanghai") is quiet


def test_quiet_hours_are_read_in_the_policy_time_zone():
    # 14:00 UTC is 22:00 in Shanghai.
    when = datetime.datetime(2026, 3, 10, 14, 0, tzinfo=datetime.UTC)
    assert rules.in_quiet_hours(when, start=NINE_PM, end=NINE_AM, tz="Asia/Shanghai")
    assert not rules.in_quiet_hours(when, start=NINE_PM, end=NINE_AM, tz="Europe/London")


def test_a_message_held_in_the_evening_waits_for_nine_next_morning():
    assert rules.quiet_hours_end(at(22, 15), start=NINE_PM, end=NINE_AM, tz="Asia/Shanghai") == at(9, day=11)


def test_a_message_held_after_midnight_waits_for_nine_the_same_morning():
    assert rules.quiet_hours_end(at(2, 0), start=NINE_PM, end=NINE_AM, tz="Asia/Shanghai") == at(9, day=10)


def test_no_quiet_hours_hold_nothing():
    assert rules.quiet_hours_end(at(23), start=None, end=None, tz="Asia/Shanghai") is None
    assert rules.quiet_hours_end(at(12), start=NINE_PM, end=NINE_AM, tz="Asia/Shanghai") is None


def test_a_daytime_window_works_too():
    assert rules.in_quiet_hours(at(12, 30), start=datetime.time(12), end=datetime.time(14), tz="Asia/Shanghai")
    assert not rules.in_quiet_hours(at(14), start=datetime.time(12), end=datetime.time(14), tz="Asia/Shanghai")


def test_control_group_is_deterministic_per_campaign_and_member():
    first = [rules.in_control_group(campaign_id=7, member_id=m, pct=20) for m in range(2000)]
    again = [rules.in_control_group(campaign_id=7, member_id=m, pct=20) for m in range(2000)]
    other = [rules.in_control_group(campaign_id=8, member_id=m, pct=20) for m in range(2000)]
    assert first == again
    assert first != other  # another campaign draws another hold-out


@pytest.mark.parametrize("pct", [5, 20, 50])
def test_control_group_share_is_close_to_the_percentage(pct):
    held = sum(rules.in_control_group(campaign_id=3, member_id=m, pct=pct) for m in range(20_000))
    assert abs(held / 20_000 - pct / 100) < 0.015


def test_no_control_group_at_zero_percent():
    assert not any(rules.in_control_group(campaign_id=1, member_id=m, pct=0) for m in range(1000))
