import datetime
from decimal import Decimal

from rewards import rules

BASE = rules.Rule(id=1, name="base", kind="base", rate=Decimal("1"))


def lines(*totals, category_id=None, product_id=None):
    return [
        rules.Line(sku=f"S{i}", line_total=Decimal(t), category_id=category_id, product_id=product_id)
        for i, t in enumerate(totals)
    ]


def test_points_are_rounded_down_once_per_purchase_not_per_line():
    assert rules.preview_points(lines("0.60", "0.60", "0.60"), [BASE]).points == 1


def test_points_round_down_the_purchase_total():
    assert rules.preview_points(lines("199.99"), [BASE]).points == 199


def test_points_follow_what_was_paid_after_an_order_discount():
    assert rules.preview_points(lines("100.00", "100.00"), [BASE], paid=Decimal("150.00")).points == 150


def test_no_base_rule_earns_nothing():
    assert rules.preview_points(lines("100.00"), []).points == 0


def test_designated_category_earns_double_and_is_reported():
    double = rules.Rule(id=2, name="Roses x2", kind="category", rate=Decimal("2"), category_id=7)
    basket = [
        rules.Line(sku="ROSE", line_total=Decimal("50.00"), category_id=7),
        rules.Line(sku="VASE", line_total=Decimal("30.00"), category_id=8),
    ]
    preview = rules.preview_points(basket, [BASE, double])
    assert preview.points == 130
    assert [(r.name, r.skus) for r in preview.rules] == [("base", ()), ("Roses x2", ("ROSE",))]


def test_product_and_category_multipliers_do_not_compound():
    by_product = rules.Rule(id=2, name="p", kind="product", rate=Decimal("3"), product_id=1)
    by_category = rules.Rule(id=3, name="c", kind="category", rate=Decimal("2"), category_id=7)
    basket = [rules.Line(sku="ROSE", line_total=Decimal("10.00"), product_id=1, category_id=7)]
    assert rules.preview_points(basket, [BASE, by_product, by_category]).points == 30


def test_points_earned_in_a_year_expire_at_the_end_of_the_next_year():
    assert rules.expires_on(datetime.date(2024, 1, 1)) == datetime.date(2025, 12, 31)
    assert rules.expires_on(datetime.date(2024, 12, 31)) == datetime.date(2025, 12, 31)


def test_partial_refunds_never_reverse_more_than_earned():
    earned, total = 99, Decimal("100.00")
    steps = [Decimal("33.33"), Decimal("66.66"), Decimal("100.00")]
    reversed_so_far = [rules.cumulative_reversal(earned=earned, total=total, refunded_total=s) for s in steps]
    assert reversed_so_far == [32, 65, 99]


def test_tier_is_the_highest_threshold_reached():
    levels = [
        rules.TierLevel(id=1, code="regular", rank=0, threshold=Decimal("0")),
        rules.TierLevel(id=2, code="silver", rank=1, threshold=Decimal("1000")),
        rules.TierLevel(id=3, code="gold", rank=2, threshold=Decimal("5000")),
    ]
    assert rules.tier_for_spend(levels, Decimal("999.99")).code == "regular"
    assert rules.tier_for_spend(levels, Decimal("1000.00")).code == "silver"
    assert rules.tier_for_spend(levels, Decimal("7000")).code == "gold"


# --- tier, plan, promotions, limits (the order of application) -------------------------------

UTC = datetime.UTC
NOON = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def promo(multiplier=None, bonus=0, *, id=10, name="promo", stores=(), channels=(), start=None, end=None):
    return rules.Promotion(
        id=id,
        name=name,
        starts_at=start or datetime.datetime(2025, 6, 1, tzinfo=UTC),
        ends_at=end or datetime.datetime(2025, 6, 2, tzinfo=UTC),
        multiplier=None if multiplier is None else Decimal(multiplier),
        bonus_points=bonus,
        store_ids=frozenset(stores),
        channels=frozenset(channels),
    )


def ctx(**kwargs):
    kwargs.setdefault("at", NOON)
    kwargs.setdefault("channel", "store")
    return rules.PurchaseContext(**kwargs)


def test_defaults_earn_one_point_per_yuan_with_only_the_base_rule_reported():
    preview = rules.preview_points(lines("100.00"), [BASE], context=ctx(tier_id=3))
    assert (preview.points, [r.kind for r in preview.rules], preview.capped_by) == (100, ["base"], None)


def test_a_tier_multiplier_applies_to_its_tier_only():
    gold = rules.Rule(id=5, name="Gold 1.2x", kind="tier", rate=Decimal("1.2"), tier_id=3)
    assert rules.preview_points(lines("100.00"), [BASE, gold], context=ctx(tier_id=3)).points == 120
    assert rules.preview_points(lines("100.00"), [BASE, gold], context=ctx(tier_id=2)).points == 100


def test_the_highest_tier_rule_wins_when_a_tier_has_two():
    low = rules.Rule(id=5, name="low", kind="tier", rate=Decimal("1.1"), tier_id=3)
    high = rules.Rule(id=6, name="high", kind="tier", rate=Decimal("1.3"), tier_id=3)
    preview = rules.preview_points(lines("100.00"), [BASE, low, high], context=ctx(tier_id=3))
    assert preview.points == 130
    assert [r.name for r in preview.rules] == ["base", "high"]


def test_the_plan_multiplier_applies_and_is_reported_with_the_lines():
    plan = rules.Plan(id=1, name="Annual plus", multiplier=Decimal("1.5"))
    preview = rules.preview_points(lines("100.00", "1.00"), [BASE], context=ctx(plan=plan))
    assert preview.points == 151  # 101 × 1.5 = 151.5, rounded down
    assert preview.rules[-1] == rules.AppliedRule(
        id=1, name="Annual plus", kind="plan", rate=Decimal("1.5"), skus=("S0", "S1")
    )


def test_multipliers_add_their_extras_and_never_compound():
    roses = rules.Rule(id=2, name="Roses x2", kind="category", rate=Decimal("2"), category_id=7)
    gold = rules.Rule(id=5, name="Gold 1.2x", kind="tier", rate=Decimal("1.2"), tier_id=3)
    plan = rules.Plan(id=1, name="plan", multiplier=Decimal("1.5"))
    basket = [rules.Line(sku="ROSE", line_total=Decimal("100.00"), category_id=7)]
    preview = rules.preview_points(
        basket, [BASE, roses, gold], context=ctx(tier_id=3, plan=plan), promotions=[promo("3")]
    )
    # 1 + (2-1) + (1.2-1) + (1.5-1) + (3-1) = 4.7, not 2 × 1.2 × 1.5 × 3 = 10.8
    assert preview.points == 470
    assert [r.kind for r in preview.rules] == ["base", "category", "tier", "plan", "promotion"]


def test_only_the_best_running_multiplier_promotion_applies():
    preview = rules.preview_points(
        lines("10.00"), [BASE], context=ctx(), promotions=[promo("2", id=1, name="x2"), promo("3", id=2, name="x3")]
    )
    assert preview.points == 30
    assert [r.name for r in preview.rules] == ["base", "x3"]


def test_a_promotion_counts_from_its_start_until_just_before_its_end():
    running = promo("2")
    assert (
        rules.preview_points(lines("10.00"), [BASE], context=ctx(at=running.starts_at), promotions=[running]).points
        == 20
    )
    just_before = running.ends_at - datetime.timedelta(microseconds=1)
    assert rules.preview_points(lines("10.00"), [BASE], context=ctx(at=just_before), promotions=[running]).points == 20
    assert (
        rules.preview_points(lines("10.00"), [BASE], context=ctx(at=running.ends_at), promotions=[running]).points == 10
    )
    before = running.starts_at - datetime.timedelta(seconds=1)
    assert rules.preview_points(lines("10.00"), [BASE], context=ctx(at=before), promotions=[running]).points == 10


def test_a_promotion_limited_to_stores_and_channels_applies_only_there():
    only = promo("2", stores=[1], channels=["online"])
    assert (
        rules.preview_points(
            lines("10.00"), [BASE], context=ctx(store_id=1, channel="online"), promotions=[only]
        ).points
        == 20
    )
    assert (
        rules.preview_points(
            lines("10.00"), [BASE], context=ctx(store_id=2, channel="online"), promotions=[only]
        ).points
        == 10
    )
    assert (
        rules.preview_points(lines("10.00"), [BASE], context=ctx(store_id=1, channel="store"), promotions=[only]).points
        == 10
    )


def test_fixed_bonus_promotions_add_up_after_the_multipliers_and_before_rounding():
    preview = rules.preview_points(
        lines("10.50"),
        [BASE],
        context=ctx(),
        promotions=[promo("2", id=1), promo(bonus=50, id=2, name="+50"), promo(bonus=5, id=3, name="+5")],
    )
    assert preview.points == 76  # 10.5 × 2 = 21, + 55
    assert [(r.kind, r.points) for r in preview.rules][-2:] == [("promotion_bonus", 50), ("promotion_bonus", 5)]


def test_below_the_minimum_spend_nothing_is_earned_not_even_bonus_points():
    limits = rules.Limits(min_spend=Decimal("50.00"))
    preview = rules.preview_points(lines("49.99"), [BASE], context=ctx(), promotions=[promo(bonus=50)], limits=limits)
    assert (preview.points, preview.rules, preview.capped_by) == (0, [], "min_spend")
    assert rules.preview_points(lines("50.00"), [BASE], context=ctx(), limits=limits).points == 50


def test_the_minimum_spend_looks_at_what_was_paid_after_discounts():
    limits = rules.Limits(min_spend=Decimal("50.00"))
    assert rules.preview_points(lines("60.00"), [BASE], Decimal("45.00"), context=ctx(), limits=limits).points == 0


def test_the_purchase_cap_cuts_after_rounding():
    limits = rules.Limits(max_points_per_purchase=500)
    preview = rules.preview_points(lines("800.90"), [BASE], context=ctx(), limits=limits)
    assert (preview.points, preview.uncapped_points, preview.capped_by) == (500, 800, "purchase_cap")


def test_the_daily_cap_leaves_what_is_left_of_the_day():
    limits = rules.Limits(max_points_per_day=1000)
    preview = rules.preview_points(lines("300.00"), [BASE], context=ctx(earned_today=800), limits=limits)
    assert (preview.points, preview.capped_by) == (200, "daily_cap")
    spent = rules.preview_points(lines("300.00"), [BASE], context=ctx(earned_today=1200), limits=limits)
    assert spent.points == 0


def test_both_caps_apply_the_daily_one_last():
    limits = rules.Limits(max_points_per_purchase=500, max_points_per_day=1000)
    assert (
        rules.preview_points(lines("900.00"), [BASE], context=ctx(earned_today=0), limits=limits).capped_by
        == "purchase_cap"
    )
    tight = rules.preview_points(lines("900.00"), [BASE], context=ctx(earned_today=700), limits=limits)
    assert (tight.points, tight.capped_by) == (300, "daily_cap")


def test_rounding_happens_once_after_every_multiplier():
    plan = rules.Plan(id=1, name="plan", multiplier=Decimal("1.5"))
    # three lines of 0.60 × 1.5 = 0.9 each: 2.7 → 2 (per-line rounding would give 0)
    assert rules.preview_points(lines("0.60", "0.60", "0.60"), [BASE], context=ctx(plan=plan)).points == 2


def test_a_multiplier_below_one_lowers_points_but_never_below_zero():
    half = rules.Rule(id=2, name="clearance", kind="product", rate=Decimal("0"), product_id=1)
    basket = [rules.Line(sku="X", line_total=Decimal("10.00"), product_id=1)]
    assert rules.preview_points(basket, [BASE, half], context=ctx()).points == 0


def test_bonus_period_keys():
    day = datetime.date(2025, 3, 9)
    assert rules.bonus_period_key("once", day) == "once"
    assert rules.bonus_period_key("yearly", day) == "2025"
    assert rules.bonus_period_key("monthly", day) == "2025-03"
    assert rules.bonus_period_key("per_reference", day, "M0000000001") == "ref:M0000000001"


def test_birthdays_on_28_february_include_29_february_only_in_common_years():
    assert rules.birthdays_on(datetime.date(2025, 2, 28)) == [(2, 28), (2, 29)]
    assert rules.birthdays_on(datetime.date(2024, 2, 28)) == [(2, 28)]
    assert rules.birthdays_on(datetime.date(2024, 2, 29)) == [(2, 29)]


def test_membership_end_dates():
    assert rules.membership_ends_on(datetime.date(2025, 3, 1), 12) == datetime.date(2026, 2, 28)
    assert rules.membership_ends_on(datetime.date(2025, 1, 31), 1) == datetime.date(2025, 2, 28)
    assert rules.membership_ends_on(datetime.date(2024, 2, 29), 12) == datetime.date(2025, 2, 28)
    assert rules.membership_ends_on(datetime.date(2025, 1, 15), 1) == datetime.date(2025, 2, 14)
