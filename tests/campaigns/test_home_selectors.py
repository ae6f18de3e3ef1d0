"""The marketing and manager home page's questions of `campaigns`, against hand-made data: today's
messages per channel, the running campaigns, segments by their last count, when the date-based
automations send next, today's events, the lifts of chosen campaigns, the repurchase series and
its target."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from campaigns.analytics import campaign_lifts
from campaigns.models import Automation, AutomationOccurrence, Campaign, CampaignKpiTarget, Event, OutboxMessage
from campaigns.reports import monthly_report, repurchase_by_month, target_statuses
from campaigns.selectors.automations import next_runs
from campaigns.selectors.campaigns import (
    handed_to_channel_on,
    handed_to_channels_on,
    running_campaigns,
    segments_by_size,
)
from campaigns.selectors.events import events_on
from campaigns.services import automations
from campaigns.services.segments import save_segment
from members.models import Holiday
from tests.campaigns.event_helpers import event
from tests.campaigns.helpers import campaign
from tests.members import factories

pytestmark = pytest.mark.django_db


def _step(made: Campaign):
    return made.steps.first() or made.steps.create(number=1)


def _message(made, member, *, channel="sms", status="delivered", at=None, skip_reason=""):
    at = at or timezone.now()
    sent = status in OutboxMessage.ACCEPTED
    return OutboxMessage.objects.create(
        campaign=made, step=_step(made), member=member, channel=channel, status=status, skip_reason=skip_reason,
        sent_at=at if sent else None, sending_at=at if status != "skipped" else None,
    )  # fmt: skip


def test_messages_handed_to_each_channel_today_in_one_query(django_assert_num_queries):
    made = campaign()
    today = timezone.localdate()
    midday = timezone.make_aware(datetime.datetime.combine(today, datetime.time(12)))
    _message(made, factories.member(), at=midday)
    _message(made, factories.member(), status="failed", at=midday)
    _message(made, factories.member(), channel="email", status="sent", at=midday)
    _message(made, factories.member(), at=midday - datetime.timedelta(days=1))  # yesterday
    _message(made, factories.member(), status="skipped", skip_reason="frequency_cap")  # never handed over
    with django_assert_num_queries(1):
        counts = handed_to_channels_on(today)
    assert counts == {"sms": 2, "email": 1, "wechat": 0}
    assert counts == {channel: handed_to_channel_on(channel, today) for channel in counts}


def test_running_campaigns_are_sending_or_scheduled_without_the_automations(django_assert_num_queries):
    now = timezone.now()
    made = {name: campaign(name=name) for name in ("草稿", "已排期", "发送中", "已完成", "生日自动化")}
    Campaign.objects.filter(pk=made["已排期"].pk).update(status="scheduled", start_at=now + datetime.timedelta(days=2))
    Campaign.objects.filter(pk=made["发送中"].pk).update(status="sending", start_at=None)
    Campaign.objects.filter(pk=made["已完成"].pk).update(status="completed")
    Campaign.objects.filter(pk=made["生日自动化"].pk).update(status="sending")
    Automation.objects.filter(kind="birthday").update(campaign=made["生日自动化"])
    with django_assert_num_queries(2):
        count, listed = running_campaigns()
    assert count == 2 and [c.name for c in listed] == ["发送中", "已排期"]  # started first, then the next to start


def test_segments_by_their_last_count_largest_first(django_assert_num_queries):
    factories.member(), factories.member()
    big = save_segment(name="全部会员", rules={})
    small = save_segment(name="上海", rules={"stores": [factories.store().code]})
    uncounted = save_segment(name="未计数", rules={})
    type(uncounted).objects.filter(pk=uncounted.pk).update(size=None)
    with django_assert_num_queries(2):
        count, listed = segments_by_size()
    assert count == 3 and [(s.name, s.size) for s in listed] == [(big.name, 2), (small.name, 0), ("未计数", None)]


def _switch_on(kind, holiday="", **changes) -> Automation:
    found = Automation.objects.get(kind=kind, holiday=holiday)
    automations.update_automation(automation=found, enabled=True, **changes)
    found.refresh_from_db()
    return found


def test_next_runs_of_the_date_automations(django_capture_on_commit_callbacks, django_assert_num_queries):
    today = datetime.date(2026, 6, 1)
    birthday = _switch_on("birthday", days_before=3)
    Automation.objects.filter(pk=birthday.pk).update(last_run_on=today)  # ran today: next tomorrow
    dates = _switch_on("important_date", days_before=7)
    with django_capture_on_commit_callbacks(execute=True):
        Holiday.objects.create(code="shop_day", name="店庆", rule="fixed", month=6, day=11, lead_days=7)
        Holiday.objects.create(code="summer", name="夏至", rule="fixed", month=6, day=21, lead_days=3)
        Holiday.objects.create(code="gone", name="停用", rule="fixed", month=6, day=5, lead_days=1, is_active=False)
    shop_day = _switch_on("holiday", "shop_day")
    summer = _switch_on("holiday", "summer")
    _switch_on("holiday", "gone")  # switched off in the calendar: never greeted
    AutomationOccurrence.objects.create(automation=summer, key="2026", on=datetime.date(2026, 6, 21),
                                        step=summer.campaign.steps.create(number=9))  # fmt: skip
    with django_assert_num_queries(3):
        runs = next_runs(today=today, limit=10)
    assert [(r.automation.pk, r.on, r.target, r.target_last) for r in runs] == [
        (dates.pk, today, today, datetime.date(2026, 6, 8)),
        (birthday.pk, datetime.date(2026, 6, 2), datetime.date(2026, 6, 5), datetime.date(2026, 6, 5)),
        (shop_day.pk, datetime.date(2026, 6, 4), datetime.date(2026, 6, 11), datetime.date(2026, 6, 11)),
        (summer.pk, datetime.date(2027, 6, 18), datetime.date(2027, 6, 21), datetime.date(2027, 6, 21)),
    ]  # summer was greeted for 2026 already: next year's
    assert str(runs[2].automation) == "店庆"


def test_events_today_at_the_store_or_at_no_store(django_assert_num_queries):
    sh, bj = factories.store("sh-001", "上海店"), factories.store("bj-001", "北京店")
    morning = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(morning, tick=False):
        event(title="上海课", starts_in=datetime.timedelta(hours=2), store=sh)
        event(title="线上课", starts_in=datetime.timedelta(hours=1))
        event(title="北京课", starts_in=datetime.timedelta(hours=3), store=bj)
        event(title="明天的课", starts_in=datetime.timedelta(days=1), store=sh)
        cancelled = event(title="取消的课", starts_in=datetime.timedelta(hours=4), store=sh)
        Event.objects.filter(pk=cancelled.pk).update(status=Event.Status.CANCELLED)
    with django_assert_num_queries(1):
        found = events_on(datetime.date(2026, 6, 1), store=sh)
    assert [(e.title, e.confirmed) for e in found] == [("线上课", 0), ("上海课", 0)]
    assert [e.title for e in events_on(datetime.date(2026, 6, 1))] == ["线上课", "上海课", "北京课"]


def test_lifts_of_chosen_campaigns_only():
    first, second = campaign(name="一"), campaign(name="二")
    for made in (first, second):
        _message(made, factories.member())
    today = timezone.localdate()
    assert {lift.campaign_id for lift in campaign_lifts(today, today)} == {first.pk, second.pk}
    assert [lift.campaign_id for lift in campaign_lifts(today, today, campaign_ids=[second.pk])] == [second.pk]
    assert campaign_lifts(today, today, campaign_ids=[]) == []


def test_repurchase_by_month_is_the_monthly_reviews_figure_and_its_target(django_assert_num_queries):
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    at_last = timezone.make_aware(datetime.datetime.combine(last_month, datetime.time(12)))
    returning, new = factories.member(), factories.member()
    factories.purchase(returning, ordered_at=at_last)
    factories.purchase(returning, ordered_at=timezone.now() - datetime.timedelta(minutes=1))
    factories.purchase(new, ordered_at=timezone.now() - datetime.timedelta(minutes=1))
    with django_assert_num_queries(1):
        months = repurchase_by_month(months=2, today=today)
    assert [(m.month, m.buyers, m.repeat_buyers) for m in months] == [(last_month, 1, 0), (this_month, 2, 1)]
    assert months[-1].repurchase_rate == 0.5
    assert [m.repurchase_rate for m in monthly_report(months=2, today=today)] == [m.repurchase_rate for m in months]
    CampaignKpiTarget.objects.create(metric="repurchase_rate", baseline_month=this_month, change_percent=Decimal(20))
    CampaignKpiTarget.objects.create(metric="participation_rate", baseline_month=this_month, change_percent=Decimal(5))
    [only] = target_statuses(today=today, metric="repurchase_rate")
    full = next(s for s in target_statuses(today=today) if s.target.metric == "repurchase_rate")
    assert (only.baseline, only.goal, only.actual) == (full.baseline, full.goal, full.actual) == (0.5, 0.6, 0.5)
