"""Activity bonuses: once per period, triggers from members, the nightly birthday task."""

import datetime

import pytest
import time_machine

from members import services as members_services
from members.models import Interaction, Member
from rewards import services
from rewards.errors import BonusNotAvailable
from rewards.models import ActivityBonus, BonusAward, LedgerEntry
from rewards.tasks import award_birthday_bonuses
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(year, month, day, hour=12, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def member():
    return factories.member()


def test_seeded_bonuses_have_the_documented_points_and_limits():
    seeded = {b.kind: (b.points, b.limit, b.is_active) for b in ActivityBonus.objects.all()}
    assert seeded == {
        "sign_up": (100, "once", True),
        "birthday": (200, "yearly", True),
        "survey": (20, "monthly", True),
        "review": (20, "monthly", True),
        "referral": (200, "per_reference", True),
        "event": (50, "monthly", True),
    }


def test_a_bonus_is_a_bonus_ledger_row_and_a_lot(member):
    result = services.award_bonus(member=member, kind="review", reference="R-1", at=at(2025, 3, 9))
    assert (result.awarded, result.points, result.points_balance) == (True, 20, 20)
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.kind, entry.points) == ("bonus", 20)
    assert result.award.period_key == "2025-03"
    assert account_of(member).lifetime_earned == 20
    assert_ledger_invariants(member)


def test_a_monthly_bonus_is_given_once_a_month_across_the_month_boundary(member):
    assert services.award_bonus(member=member, kind="review", at=at(2025, 3, 1, 0, 0)).awarded
    assert not services.award_bonus(member=member, kind="review", at=at(2025, 3, 31, 23, 59)).awarded
    assert services.award_bonus(member=member, kind="review", at=at(2025, 4, 1, 0, 0)).awarded
    assert account_of(member).balance == 40


def test_a_yearly_bonus_is_given_once_a_year_across_the_year_boundary(member):
    with time_machine.travel(at(2024, 12, 31, 23, 59), tick=False):
        assert services.award_bonus(member=member, kind="birthday").awarded
        assert not services.award_bonus(member=member, kind="birthday").awarded
    with time_machine.travel(at(2025, 1, 1, 0, 1), tick=False):
        assert services.award_bonus(member=member, kind="birthday").awarded
    assert list(BonusAward.objects.filter(member=member).order_by("id").values_list("period_key", flat=True)) == [
        "2024",
        "2025",
    ]


def test_the_period_follows_shanghai_time_not_utc(member):
    # 2025-01-01 00:30 in Shanghai is still 2024 in UTC
    assert services.award_bonus(member=member, kind="birthday", at=at(2025, 1, 1, 0, 30)).award.period_key == "2025"


def test_a_once_ever_bonus_is_never_given_twice(member):
    assert services.award_bonus(member=member, kind="sign_up", at=at(2020, 1, 1)).awarded
    assert not services.award_bonus(member=member, kind="sign_up", at=at(2030, 1, 1)).awarded


def test_a_referral_bonus_is_given_once_per_referred_member(member):
    assert services.award_bonus(member=member, kind="referral", reference="M0000000001").awarded
    assert not services.award_bonus(member=member, kind="referral", reference="M0000000001").awarded
    assert services.award_bonus(member=member, kind="referral", reference="M0000000002").awarded
    assert not services.award_bonus(member=member, kind="referral").awarded  # needs a reference
    assert account_of(member).balance == 400


def test_an_inactive_bonus_gives_nothing_and_strict_callers_learn_why(member):
    ActivityBonus.objects.filter(kind="survey").update(is_active=False)
    assert not services.award_bonus(member=member, kind="survey").awarded
    with pytest.raises(BonusNotAvailable):
        services.award_bonus(member=member, kind="survey", strict=True)
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_a_second_award_in_the_period_is_refused_for_strict_callers(member):
    services.award_bonus(member=member, kind="event")
    with pytest.raises(BonusNotAvailable) as error:
        services.award_bonus(member=member, kind="event", strict=True)
    assert error.value.code == "bonus_not_available"


def test_an_erased_member_gets_no_bonus(member):
    members_services.erase_member(member=member)
    assert not services.award_bonus(member=member, kind="review").awarded


def test_the_points_follow_the_admins_setting(member):
    ActivityBonus.objects.filter(kind="review").update(points=35)
    assert services.award_bonus(member=member, kind="review").points == 35


# --- triggers from members ------------------------------------------------------------------


def test_registering_a_member_gives_the_sign_up_bonus_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member = factories.member()
    award = BonusAward.objects.get(member=member)
    assert (award.bonus.kind, award.points, award.reference) == ("sign_up", 100, member.member_no)
    assert account_of(member).balance == 100


def test_a_failing_sign_up_bonus_never_loses_the_member(django_capture_on_commit_callbacks, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(services, "award_bonus", broken)
    with django_capture_on_commit_callbacks(execute=True):
        member = factories.member()
    assert Member.objects.filter(pk=member.pk).exists()
    assert not BonusAward.objects.exists()
    assert "members signal failed" in caplog.text
    assert member.phone not in caplog.text  # personal data is never logged


def test_a_registration_that_rolls_back_sends_nothing(django_capture_on_commit_callbacks):
    from django.core.exceptions import ValidationError

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationError):
        members_services.create_member(name="", phone="13900000000")
    assert callbacks == []


@pytest.mark.parametrize(
    ("interaction", "bonus", "points"),
    [
        (Interaction.Kind.REVIEW, "review", 20),
        (Interaction.Kind.SURVEY, "survey", 20),
        (Interaction.Kind.EVENT, "event", 50),
    ],
)
def test_recording_a_matching_interaction_gives_its_bonus(
    member, django_capture_on_commit_callbacks, interaction, bonus, points
):
    with django_capture_on_commit_callbacks(execute=True):
        record = members_services.add_interaction(member=member, kind=interaction, channel="web", summary="thanks")
    award = BonusAward.objects.get(member=member)
    assert (award.bonus.kind, award.points, award.reference) == (bonus, points, f"interaction:{record.pk}")


def test_other_interactions_and_a_second_review_in_the_month_give_nothing_more(
    member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        members_services.add_interaction(member=member, kind=Interaction.Kind.CALL, channel="phone", summary="hi")
        members_services.add_interaction(member=member, kind=Interaction.Kind.REVIEW, channel="web", summary="5*")
        members_services.add_interaction(member=member, kind=Interaction.Kind.REVIEW, channel="web", summary="5*")
    assert BonusAward.objects.filter(member=member).count() == 1


# --- birthdays -------------------------------------------------------------------------------


def born(month, day, year=1990, **kwargs):
    return factories.member(name=f"生日{month}-{day}", birthday=datetime.date(year, month, day), **kwargs)


def test_the_birthday_task_awards_todays_birthdays_once(django_capture_on_commit_callbacks):
    today_born, other = born(6, 15), born(6, 16)
    with time_machine.travel(at(2025, 6, 15, 0, 5), tick=False):
        assert award_birthday_bonuses() == {"day": "2025-06-15", "members": 1, "awarded": 1}
        assert award_birthday_bonuses() == {"day": "2025-06-15", "members": 1, "awarded": 0}
    assert account_of(today_born).balance == 200
    assert not BonusAward.objects.filter(member=other).exists()
    with time_machine.travel(at(2026, 6, 15, 0, 5), tick=False):
        assert award_birthday_bonuses()["awarded"] == 1  # next year again


def test_the_birthday_task_uses_the_shanghai_date():
    member = born(6, 15)
    # 2025-06-14 17:00 UTC is 2025-06-15 01:00 in Shanghai
    with time_machine.travel(datetime.datetime(2025, 6, 14, 17, 0, tzinfo=datetime.UTC), tick=False):
        assert award_birthday_bonuses()["awarded"] == 1
    assert BonusAward.objects.get(member=member).period_key == "2025"


def test_29_february_birthdays_are_celebrated_on_28_february_in_common_years():
    leapling, feb28 = born(2, 29, year=2000), born(2, 28)
    with time_machine.travel(at(2025, 2, 28, 0, 5), tick=False):
        assert award_birthday_bonuses()["awarded"] == 2
    with time_machine.travel(at(2025, 3, 1, 0, 5), tick=False):
        assert award_birthday_bonuses()["awarded"] == 0
    with time_machine.travel(at(2028, 2, 28, 0, 5), tick=False):
        assert award_birthday_bonuses()["awarded"] == 1  # a leap year: only the 28 February birthday
    with time_machine.travel(at(2028, 2, 29, 0, 5), tick=False):
        assert award_birthday_bonuses()["awarded"] == 1
    assert BonusAward.objects.filter(member=leapling).count() == 2
    assert BonusAward.objects.filter(member=feb28).count() == 2


def test_the_birthday_task_skips_frozen_and_erased_members():
    frozen, erased = born(7, 1), born(7, 1)
    Member.objects.filter(pk=frozen.pk).update(status=Member.Status.FROZEN)
    members_services.erase_member(member=erased)
    with time_machine.travel(at(2025, 7, 1, 0, 5), tick=False):
        assert award_birthday_bonuses() == {"day": "2025-07-01", "members": 0, "awarded": 0}


def test_the_nightly_birthday_task_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Award birthday bonuses (nightly)")
    assert (task.task, task.enabled, task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "rewards.award_birthday_bonuses",
        True,
        "0",
        "5",
        "Asia/Shanghai",
    )


def test_the_birthday_task_can_be_given_a_day():
    born(9, 9)
    assert services.award_birthday_bonuses(on=datetime.date(2025, 9, 9)).awarded == 1
