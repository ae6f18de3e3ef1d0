"""A marketer in China schedules a weekly SMS campaign in the admin, launches it, sees its next run
and the beat entry it made; a run then fills the outbox, and the runs table shows it."""

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Campaign, OutboxMessage
from campaigns.services import recurring
from loyalty_crm.roles import MARKETING
from tests.browser.conftest import screenshot
from tests.campaigns.helpers import member
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_marketer_schedules_a_weekly_campaign(live_server, zh_page):
    make_user("marketer", MARKETING)
    member(name="王芳", sms_consent=True)
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-marketer")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "每周鲜花推荐")
    page.select_option("#id_channel", "sms")
    page.fill("#id_body", "{{ member.name }}您好！本周新到的鲜花已经上架。")
    page.select_option("#id_repeat", "weekly")
    page.fill("#id_repeat_time", "10:00")
    page.select_option("#id_repeat_weekday", "1")  # Monday
    screenshot(page, "recurring_01_schedule_zh")
    page.click("input[name=_continue]")
    page.wait_for_url("**/admin/campaigns/campaign/*/change/**", timeout=60_000)

    page.click("button.campaign-launch")
    page.locator(".messagelist").wait_for(timeout=60_000)
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.SCHEDULED
    task = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert task.enabled and task.task == "campaigns.run_recurring_campaign"
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("10", "0", "1")

    page.reload()
    body = page.locator("body").inner_text()
    assert "下次运行" in body  # the next run, in Chinese
    next_run = recurring.next_run_at(campaign)
    assert next_run.weekday() == 0 and timezone.localtime(next_run).time() == datetime.time(10, 0)
    assert "尚未运行" in body  # no run yet
    screenshot(page, "recurring_02_launched_zh")

    # Monday 10:00 comes: the beat runs the task, which fills the outbox for that day's run.
    monday = timezone.localtime(next_run)
    recurring.run_occurrence(campaign_id=campaign.pk, now=monday)
    assert OutboxMessage.objects.filter(step__campaign=campaign).count() == 1
    page.reload()
    runs = page.locator("body").inner_text()
    assert monday.date().isoformat() in runs or f"{monday.month}月{monday.day}日" in runs
    screenshot(page, "recurring_03_first_run_zh")
