import pytest
from django.utils import timezone

from members import loyalty
from members.models import Member
from rewards.models import Tier
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


def test_rewards_registers_itself_as_the_provider():
    from rewards.loyalty import RewardsLoyaltyProvider

    assert isinstance(loyalty._provider, RewardsLoyaltyProvider)


def test_snapshots_of_many_members_take_one_query(django_assert_num_queries):
    members = [factories.member(name=f"m{i}") for i in range(4)]
    post(members[0], "1200.00")
    post(members[1], "10.00")
    with django_assert_num_queries(1):
        snapshots = loyalty.snapshots(members)
    assert [(snapshots[m.pk].points_balance, snapshots[m.pk].tier.code) for m in members] == [
        (1200, "silver"),
        (10, "regular"),
        (0, "regular"),
        (0, "regular"),
    ]


def test_members_without_an_account_get_the_entry_tier_even_if_renamed():
    Tier.objects.filter(code="regular").update(name="Member")
    member = factories.member()
    assert loyalty.snapshot(member).tier.name == "Member"


def test_filter_by_tier_returns_each_member_once():
    silver, regular = factories.member(name="a"), factories.member(name="b")
    post(silver, "600.00")
    post(silver, "600.00")
    post(regular, "5.00")
    assert list(loyalty.filter_by_tier(Member.objects.all(), "silver")) == [silver]
    assert set(loyalty.filter_by_tier(Member.objects.all(), "regular")) == {regular}
    assert list(loyalty.filter_by_tier(Member.objects.all(), "gold")) == []
    assert list(loyalty.filter_by_tier(Member.objects.all(), "nonsense")) == []


def test_members_without_account_are_in_the_entry_tier():
    member = factories.member()
    assert list(loyalty.filter_by_tier(Member.objects.all(), "regular")) == [member]
    assert list(loyalty.filter_by_tier(Member.objects.all(), "silver")) == []


def test_tier_choices_are_in_rank_order():
    assert [code for code, _name in loyalty.tier_choices()] == ["regular", "silver", "gold", "diamond"]


def test_provider_records_purchases_with_points_for_the_members_admin():
    from rewards.loyalty import RewardsLoyaltyProvider
    from tests.rewards.helpers import account_of, line, next_ref

    member = factories.member()
    purchase = RewardsLoyaltyProvider().record_purchase(
        member=member,
        external_ref=next_ref("ADM"),
        ordered_at=timezone.now(),
        items=[line("88.00")],
    )
    assert purchase.member == member
    assert account_of(member).balance == 88
