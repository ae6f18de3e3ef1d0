"""Pure earning, expiry and tier arithmetic, without the ORM (easy to test)."""

from __future__ import annotations

import calendar
import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

ONE = Decimal("1")
BASE_RULE_DEFAULT_RATE = Decimal("1")


@dataclass(frozen=True)
class Line:
    """A purchase line as the rules see it: what the line cost and what it is."""

    sku: str
    line_total: Decimal
    product_id: int | None = None
    category_id: int | None = None


@dataclass(frozen=True)
class Rule:
    id: int | None
    name: str
    kind: str  # "base" | "product" | "category"
    rate: Decimal
    product_id: int | None = None
    category_id: int | None = None


@dataclass(frozen=True)
class AppliedRule:
    id: int | None
    name: str
    kind: str
    rate: Decimal
    skus: tuple[str, ...] = ()


@dataclass(frozen=True)
class PointsPreview:
    points: int
    paid: Decimal
    rules: list[AppliedRule] = field(default_factory=list)


def paid_shares(lines: Sequence[Line], paid: Decimal) -> list[Decimal]:
    """Each line's share of what was actually paid (an order discount spreads pro rata)."""
    gross = sum((line.line_total for line in lines), Decimal("0"))
    if gross <= 0:
        return [Decimal("0") for _line in lines]
    return [line.line_total * paid / gross for line in lines]


def _best_by_target(rules: Sequence[Rule], kind: str, attribute: str) -> dict[int, Rule]:
    """The highest multiplier of the given kind per product (or category) id."""
    best: dict[int, Rule] = {}
    for rule in rules:
        target = getattr(rule, attribute)
        if rule.kind == kind and target is not None and (target not in best or rule.rate > best[target].rate):
            best[target] = rule
    return best


def preview_points(lines: Sequence[Line], rules: Sequence[Rule], paid: Decimal | None = None) -> PointsPreview:
    """Points a basket earns: Σ paid share × base rate × best multiplier, rounded down once.

    `paid` is what the customer actually paid (default: the lines' total). Without an active base
    rule nothing is earned. Multipliers from product and category rules do not compound: a line
    takes the highest that names its product or its category.
    """
    gross = sum((line.line_total for line in lines), Decimal("0"))
    paid = gross if paid is None else paid
    base = next((rule for rule in rules if rule.kind == "base"), None)
    if base is None or paid <= 0:
        return PointsPreview(points=0, paid=paid, rules=[])
    by_product = _best_by_target(rules, "product", "product_id")
    by_category = _best_by_target(rules, "category", "category_id")
    exact = Decimal("0")
    used: dict[int | None, list[str]] = {}
    for line, share in zip(lines, paid_shares(lines, paid), strict=True):
        candidates = [r for r in (by_product.get(line.product_id), by_category.get(line.category_id)) if r]
        best = max(candidates, key=lambda r: r.rate, default=None)
        multiplier = best.rate if best else ONE
        if best is not None:
            used.setdefault(best.id, []).append(line.sku)
        exact += share * base.rate * multiplier
    points = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    applied = [AppliedRule(id=base.id, name=base.name, kind=base.kind, rate=base.rate)]
    rules_by_id = {rule.id: rule for rule in rules}
    for rule_id, skus in used.items():
        rule = rules_by_id[rule_id]
        applied.append(AppliedRule(id=rule.id, name=rule.name, kind=rule.kind, rate=rule.rate, skus=tuple(skus)))
    return PointsPreview(points=max(points, 0), paid=paid, rules=applied)


YEAR_END_NEXT = "year_end_next"
YEAR_END = "year_end"
ROLLING = "rolling"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` moved `months` months on; the 31st becomes the month's last day when it has fewer."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_date(earned_on: datetime.date, policy_kind: str, months: int | None = None) -> datetime.date:
    """The last day points earned on `earned_on` are still there (they are gone the day after).

    "year_end_next" (the default, "每年年底清零" with every point living at least a year): earned
    in year Y, expire at the end of 31 December of Y+1. "year_end": 31 December of Y.
    "rolling": `months` months after earning.
    """
    if policy_kind == YEAR_END_NEXT:
        return datetime.date(earned_on.year + 1, 12, 31)
    if policy_kind == YEAR_END:
        return datetime.date(earned_on.year, 12, 31)
    if policy_kind == ROLLING:
        if not months or months < 1:
            raise ValueError(f"A rolling expiry policy needs months >= 1, not {months!r}.")
        return _add_months(earned_on, months)
    raise ValueError(f"Unknown expiry policy {policy_kind!r}.")


def expires_on(earned_on: datetime.date) -> datetime.date:
    """The default policy's date (year_end_next)."""
    return expiry_date(earned_on, YEAR_END_NEXT)


def cumulative_reversal(*, earned: int, total: Decimal, refunded_total: Decimal) -> int:
    """Points to have reversed once `refunded_total` of a purchase of `total` is refunded.

    Proportional and rounded down on the cumulative amount, so partial refunds never reverse
    more than the purchase earned, and refunding everything reverses exactly what it earned.
    """
    if total <= 0 or earned <= 0:
        return 0
    if refunded_total >= total:
        return earned
    return math.floor(Decimal(earned) * refunded_total / total)


@dataclass(frozen=True)
class TierLevel:
    id: int
    code: str
    rank: int
    threshold: Decimal


def tier_for_spend(tiers: Sequence[TierLevel], spend: Decimal) -> TierLevel:
    """The highest tier whose threshold the cumulative spend reaches (the entry tier at least)."""
    ordered = sorted(tiers, key=lambda t: t.rank)
    reached = ordered[0]
    for tier in ordered:
        if spend >= tier.threshold:
            reached = tier
    return reached
