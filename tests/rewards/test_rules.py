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
