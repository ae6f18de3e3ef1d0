"""`manage.py classify_members` and the nightly beat task."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from campaigns import tasks
from campaigns.models import ClassificationRun, MemberScore, Segment
from campaigns.services.segments import save_segment
from tests.campaigns.segment_helpers import at, buy, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def few():
    a, b, c = member("甲"), member("乙"), member("丙")
    buy(a, "900.00", at("2026-05-01"))
    buy(b, "100.00", at("2026-05-02"))
    return a, b, c


def test_command_classifies_as_of_a_date_and_prints_a_summary(few):
    out, err = io.StringIO(), io.StringIO()
    call_command("classify_members", "--as-of", "2026-06-30", stdout=out, stderr=err)
    text = out.getvalue()
    assert "Classified 3 members as of 2026-06-30" in text
    assert "High value" in text and "No purchases yet" in text
    assert "CLV model not fitted" in text  # three members are too few for the model
    assert "%" in err.getvalue() or "Saving" in err.getvalue()  # the progress bar went to stderr
    assert MemberScore.objects.get(member=few[0]).classification == "high_value"
    assert MemberScore.objects.get(member=few[2]).classification == "no_purchases"
    assert ClassificationRun.objects.get().as_of == datetime.date(2026, 6, 30)


def test_command_recounts_segments(few):
    segment = save_segment(name="高价值", rules={"classification": ["high_value"]})
    assert segment.size == 0
    call_command("classify_members", "--as-of", "2026-06-30", "--no-progress", stdout=io.StringIO())
    assert Segment.objects.get(pk=segment.pk).size == 1


def test_command_refuses_a_bad_date(db):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("classify_members", "--as-of", "30/06/2026")


def test_task_classifies_and_recounts(few):
    save_segment(name="全部", rules={})
    result = tasks.classify_members.apply(kwargs={"as_of": "2026-06-30"}).get()
    assert result["members"] == 3 and result["segments_counted"] == 1
    assert result["counts"]["high_value"] == 1
    again = tasks.classify_members.apply(kwargs={"as_of": "2026-06-30"}).get()  # safe to run twice
    assert again["counts"] == result["counts"] and MemberScore.objects.count() == 3


def test_the_nightly_task_is_scheduled_by_migration(db):
    task = PeriodicTask.objects.get(name="Classify members (nightly)")
    assert task.task == "campaigns.classify_members" and task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("3", "0", "Asia/Shanghai")


def test_the_default_policy_exists_after_migrations(db):
    from campaigns.models import ClassificationPolicy

    policy = ClassificationPolicy.objects.get(pk=1)
    assert (policy.high_value_share, policy.window_months, policy.lapsed_after_days, policy.clv_horizon_months) == (
        20,
        12,
        730,
        12,
    )
