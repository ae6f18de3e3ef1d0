"""Earning through the services: the one computation behind posting and preview."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import SalesChannel
from rewards import services
from rewards.models import EarningSettings, EarnRule, MembershipPlan, Promotion, Tier
from tests.members import factories
from tests.rewards.helpers import assert_ledger_invariants, line, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return factories.member()


def limits(**values):
    row, _created = EarningSettings.objects.get_or_create(pk=1)
    for field, value in values.items():
        setattr(row, field, value)
    row.save()
    return row


def promotion(*, multiplier=None, bonus=None, stores=(), channels=(), hours=(-24, 24), name="Double points"):
    now = timezone.now()
    promo = Promotion.objects.create(
        name=name,
        kind=Promotion.Kind.MULTIPLIER if multiplier is not None else Promotion.Kind.BONUS,
        multiplier=multiplier,
        bonus_points=bonus,
        starts_at=now + datetime.timedelta(hours=hours[0]),
        ends_at=now + datetime.timedelta(hours=hours[1]),
        channels=list(channels),
    )
    promo.stores.set(stores)
    return promo


def test_seeded_defaults_earn_one_point_per_yuan_and_no_limits(member):
    settings_row = EarningSettings.objects.get(pk=1)
    assert (settings_row.min_spend, settings_row.max_points_per_purchase, settings_row.max_points_per_day) == (
        Decimal("0.00"),
        None,
        None,
    )
    assert not EarnRule.objects.filter(kind="tier").exists()
    assert post(member, "123.45").points_earned == 123


def test_a_running_promotion_doubles_the_points_of_a_posting(member):
    promotion(multiplier=Decimal("2"))
    assert post(member, "100.00").points_earned == 200
    assert_ledger_invariants(member)


def test_a_promotion_applies_by_the_purchase_time_even_for_a_backfill(member):
    promotion(multiplier=Decimal("2"), hours=(-72, -48))
    ordered_at = timezone.now() - datetime.timedelta(hours=60)
    assert post(member, "100.00", ordered_at=ordered_at).points_earned == 200
    assert post(member, "100.00").points_earned == 100


def test_a_store_promotion_applies_in_that_store_only(member):
    shop = factories.store()
    other = factories.store(code="bj-001", name="北京店")
    promotion(bonus=30, stores=[shop])
    assert post(member, "10.00", store=shop).points_earned == 40
    assert post(member, "10.00", store=other).points_earned == 10


def test_a_channel_promotion_applies_in_that_channel_only(member):
    promotion(multiplier=Decimal("3"), channels=[SalesChannel.ONLINE])
    assert post(member, "10.00", channel=SalesChannel.ONLINE).points_earned == 30
    assert post(member, "10.00", channel=SalesChannel.STORE).points_earned == 10


def test_a_tier_multiplier_uses_the_tier_held_when_buying(member):
    silver = Tier.objects.get(code="silver")
    EarnRule.objects.create(name="Silver 1.5x", kind="tier", rate=Decimal("1.5"), tier=silver)
    upgrading = post(member, "1000.00")  # regular when buying: no multiplier, then silver
    assert (upgrading.points_earned, upgrading.tier.code) == (1000, "silver")
    assert post(member, "100.00").points_earned == 150


def test_minimum_spend_and_caps_apply_to_postings(member):
    limits(min_spend=Decimal("20.00"), max_points_per_purchase=300, max_points_per_day=500)
    assert post(member, "19.99").points_earned == 0
    assert post(member, "400.00").points_earned == 300
    assert post(member, "400.00").points_earned == 200  # 500 a day: 300 already earned
    assert post(member, "400.00").points_earned == 0
    # The day before the purchases above (posted an hour ago by default): another day in Shanghai
    # whatever the time of the run (now − 1 day alone is the same Shanghai day just after midnight).
    yesterday = timezone.now() - datetime.timedelta(hours=1, days=1)
    assert post(member, "100.00", ordered_at=yesterday).points_earned == 100
    assert_ledger_invariants(member)


def test_the_daily_cap_counts_the_purchase_day_in_shanghai(member):
    limits(max_points_per_day=100)
    shanghai = timezone.get_current_timezone()
    late = datetime.datetime(2025, 5, 1, 23, 30, tzinfo=shanghai)
    assert post(member, "80.00", ordered_at=late).points_earned == 80
    assert post(member, "80.00", ordered_at=late + datetime.timedelta(minutes=10)).points_earned == 20
    assert post(member, "80.00", ordered_at=late + datetime.timedelta(hours=1)).points_earned == 80  # 2 May


def test_refunded_points_free_the_daily_cap(member):
    limits(max_points_per_day=100)
    first = post(member, "100.00")
    services.refund_purchase(purchase=first.purchase, external_ref="R-1")
    assert post(member, "100.00").points_earned == 100


def test_preview_is_the_same_computation_as_posting(member):
    plan = MembershipPlan.objects.get(code="annual-plus")
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    services.buy_membership(member=member, plan=plan, external_ref="PLAN-1", starts_on=yesterday)
    promotion(bonus=10, name="Opening bonus")
    preview = services.preview_points(items=[line("100.00")], member=member)
    assert (preview.points, [r.kind for r in preview.rules]) == (160, ["base", "plan", "promotion_bonus"])
    assert post(member, "100.00").points_earned == preview.points


def test_preview_without_member_ignores_plans_and_keeps_its_old_arguments(member):
    plan = MembershipPlan.objects.get(code="annual-plus")
    services.buy_membership(member=member, plan=plan, external_ref="PLAN-1")
    assert services.preview_points(items=[line("100.00")], total=Decimal("80.00")).points == 80


def test_preview_reports_the_cap_that_cut_the_points(member):
    limits(max_points_per_day=150)
    post(member, "100.00", ordered_at=timezone.now())  # today, as the preview (not an hour ago: midnight)
    preview = services.preview_points(items=[line("100.00")], member=member)
    assert (preview.points, preview.uncapped_points, preview.capped_by) == (50, 100, "daily_cap")


def test_changing_a_rule_takes_effect_for_the_next_posting_despite_the_cache(member):
    assert post(member, "10.00").points_earned == 10  # caches the configuration
    base = EarnRule.objects.get(kind="base", is_active=True)
    base.rate = Decimal("2")
    base.save()
    assert post(member, "10.00").points_earned == 20
    promo = promotion(multiplier=Decimal("3"))
    assert post(member, "10.00").points_earned == 60  # 10 yuan × base 2 × promotion 3
    promo.stores.set([factories.store()])  # now only in that store
    assert post(member, "10.00").points_earned == 20


def test_an_expired_plan_no_longer_adds_points(member):
    plan = MembershipPlan.objects.get(code="annual-plus")
    services.buy_membership(
        member=member, plan=plan, external_ref="PLAN-OLD", starts_on=timezone.localdate() - datetime.timedelta(days=400)
    )
    assert post(member, "100.00").points_earned == 100
    old_purchase = timezone.now() - datetime.timedelta(days=300)
    assert post(member, "100.00", ordered_at=old_purchase).points_earned == 150  # the plan ran then
