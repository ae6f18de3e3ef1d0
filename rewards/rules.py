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


BASE = "base"
PRODUCT = "product"
CATEGORY = "category"
TIER = "tier"
PLAN = "plan"
PROMOTION = "promotion"  # a multiplier during a promotion
PROMOTION_BONUS = "promotion_bonus"  # fixed points during a promotion

CAPPED_BY_MIN_SPEND = "min_spend"
CAPPED_BY_PURCHASE = "purchase_cap"
CAPPED_BY_DAY = "daily_cap"


@dataclass(frozen=True)
class Rule:
    """An earning rule row: the base rate, or a multiplier for a product, a category or a tier."""

    id: int | None
    name: str
    kind: str  # BASE | PRODUCT | CATEGORY | TIER
    rate: Decimal
    product_id: int | None = None
    category_id: int | None = None
    tier_id: int | None = None


@dataclass(frozen=True)
class Promotion:
    """A time-limited promotion: a multiplier or fixed bonus points for purchases in
    [starts_at, ends_at), optionally only in some stores and/or channels (empty = all)."""

    id: int | None
    name: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    multiplier: Decimal | None = None
    bonus_points: int = 0
    store_ids: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()

    def applies(self, *, at: datetime.datetime | None, store_id: int | None, channel: str | None) -> bool:
        if at is None or not (self.starts_at <= at < self.ends_at):
            return False
        if self.store_ids and store_id not in self.store_ids:
            return False
        return not (self.channels and channel not in self.channels)


@dataclass(frozen=True)
class Plan:
    """The paid membership plan a member holds at the time of the purchase."""

    id: int | None
    name: str
    multiplier: Decimal


@dataclass(frozen=True)
class Limits:
    """Purchase-wide limits: below `min_spend` paid a purchase earns nothing; a purchase earns at
    most `max_points_per_purchase`; a member earns at most `max_points_per_day` from purchases
    per local day. None means no limit."""

    min_spend: Decimal = Decimal("0")
    max_points_per_purchase: int | None = None
    max_points_per_day: int | None = None


NO_LIMITS = Limits()


@dataclass(frozen=True)
class PurchaseContext:
    """Who bought, where, when: what the rules besides the lines depend on.

    `earned_today` is what the member's purchases already earned that local day (only read
    when a daily cap is set)."""

    tier_id: int | None = None
    plan: Plan | None = None
    store_id: int | None = None
    channel: str | None = None
    at: datetime.datetime | None = None
    earned_today: int = 0


@dataclass(frozen=True)
class AppliedRule:
    id: int | None
    name: str
    kind: str
    rate: Decimal
    skus: tuple[str, ...] = ()
    points: int | None = None  # fixed bonus points (promotion bonuses)


@dataclass(frozen=True)
class PointsPreview:
    """The points a purchase earns and why: the rules that applied, in the order of application,
    and the limit that cut them (`capped_by`: "min_spend", "purchase_cap" or "daily_cap")."""

    points: int
    paid: Decimal
    rules: list[AppliedRule] = field(default_factory=list)
    capped_by: str | None = None
    uncapped_points: int = 0


def paid_shares(lines: Sequence[Line], paid: Decimal) -> list[Decimal]:
    """Each line's share of what was actually paid (an order discount spreads pro rata)."""
    gross = sum((line.line_total for line in lines), Decimal("0"))
    if gross <= 0:
        return [Decimal("0") for _line in lines]
    return [line.line_total * paid / gross for line in lines]


def _best_by_target(rules: Sequence[Rule], kind: str, attribute: str) -> dict[int, Rule]:
    """The highest multiplier of the given kind per product (or category, or tier) id."""
    best: dict[int, Rule] = {}
    for rule in rules:
        target = getattr(rule, attribute)
        if rule.kind == kind and target is not None and (target not in best or rule.rate > best[target].rate):
            best[target] = rule
    return best


def preview_points(
    lines: Sequence[Line],
    rules: Sequence[Rule],
    paid: Decimal | None = None,
    *,
    context: PurchaseContext | None = None,
    promotions: Sequence[Promotion] = (),
    limits: Limits = NO_LIMITS,
) -> PointsPreview:
    """The points one purchase earns, and why. The order of application:

    1. Nothing without an active base rule, or when nothing was paid.
    2. Minimum spend: paying less than `limits.min_spend` earns nothing (capped_by "min_spend").
    3. Each line earns its share of what was paid × the base rate × a factor. The factor is
       1 plus the EXTRA of every multiplier that applies — multipliers never multiply each other:
       - the line's best product or category multiplier (the highest of those naming the line's
         product or category; product and category rules do not add up with each other),
       - the member's tier multiplier (the highest active rule for the tier held when buying),
       - the paid membership plan's multiplier,
       - the best multiplier among the promotions running at `at` for the store and channel.
       So double points on roses (2×) bought by a plan member (1.5×) earn 1 + 1 + 0.5 = 2.5×
       the base. A factor never drops below 0.
    4. Fixed bonus points of every running bonus promotion are added.
    5. The sum is rounded down, once per purchase.
    6. The per-purchase cap, then the daily cap (what is left of it after `earned_today`).
    """
    context = context or PurchaseContext()
    gross = sum((line.line_total for line in lines), Decimal("0"))
    paid = gross if paid is None else paid
    base = next((rule for rule in rules if rule.kind == BASE), None)
    if base is None or paid <= 0:
        return PointsPreview(points=0, paid=paid, rules=[])
    if limits.min_spend and paid < limits.min_spend:
        return PointsPreview(points=0, paid=paid, rules=[], capped_by=CAPPED_BY_MIN_SPEND)

    applied = [AppliedRule(id=base.id, name=base.name, kind=base.kind, rate=base.rate)]
    all_skus = tuple(line.sku for line in lines)
    purchase_extra = Decimal("0")
    tier_rule = _best_by_target(rules, TIER, "tier_id").get(context.tier_id) if context.tier_id else None
    if tier_rule is not None:
        purchase_extra += tier_rule.rate - ONE
    plan = context.plan
    if plan is not None and plan.multiplier != ONE:
        purchase_extra += plan.multiplier - ONE
    running = [
        promo
        for promo in promotions
        if promo.applies(at=context.at, store_id=context.store_id, channel=context.channel)
    ]
    best_promo = max((p for p in running if p.multiplier is not None), key=lambda p: p.multiplier, default=None)
    if best_promo is not None:
        purchase_extra += best_promo.multiplier - ONE

    by_product = _best_by_target(rules, PRODUCT, "product_id")
    by_category = _best_by_target(rules, CATEGORY, "category_id")
    exact = Decimal("0")
    used: dict[int | None, list[str]] = {}
    line_rules: dict[int | None, Rule] = {}
    for line, share in zip(lines, paid_shares(lines, paid), strict=True):
        candidates = [r for r in (by_product.get(line.product_id), by_category.get(line.category_id)) if r]
        best = max(candidates, key=lambda r: r.rate, default=None)
        line_extra = (best.rate - ONE) if best else Decimal("0")
        if best is not None:
            used.setdefault(best.id, []).append(line.sku)
            line_rules[best.id] = best
        factor = max(Decimal("0"), ONE + line_extra + purchase_extra)
        exact += share * base.rate * factor
    for rule_id, skus in used.items():
        rule = line_rules[rule_id]
        applied.append(AppliedRule(id=rule.id, name=rule.name, kind=rule.kind, rate=rule.rate, skus=tuple(skus)))
    if tier_rule is not None:
        applied.append(AppliedRule(id=tier_rule.id, name=tier_rule.name, kind=TIER, rate=tier_rule.rate, skus=all_skus))
    if plan is not None and plan.multiplier != ONE:
        applied.append(AppliedRule(id=plan.id, name=plan.name, kind=PLAN, rate=plan.multiplier, skus=all_skus))
    if best_promo is not None:
        applied.append(
            AppliedRule(
                id=best_promo.id, name=best_promo.name, kind=PROMOTION, rate=best_promo.multiplier, skus=all_skus
            )
        )
    for promo in running:
        if promo.bonus_points > 0:
            exact += promo.bonus_points
            applied.append(
                AppliedRule(
                    id=promo.id, name=promo.name, kind=PROMOTION_BONUS, rate=Decimal("0"), points=promo.bonus_points
                )
            )
    uncapped = max(int(exact.to_integral_value(rounding=ROUND_FLOOR)), 0)
    points, capped_by = uncapped, None
    if limits.max_points_per_purchase is not None and points > limits.max_points_per_purchase:
        points, capped_by = limits.max_points_per_purchase, CAPPED_BY_PURCHASE
    if limits.max_points_per_day is not None:
        left_today = max(0, limits.max_points_per_day - max(context.earned_today, 0))
        if points > left_today:
            points, capped_by = left_today, CAPPED_BY_DAY
    return PointsPreview(points=points, paid=paid, rules=applied, capped_by=capped_by, uncapped_points=uncapped)


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


# --- activity bonuses and paid membership -------------------------------------------------

ONCE = "once"
YEARLY = "yearly"
MONTHLY = "monthly"
PER_REFERENCE = "per_reference"


def bonus_period_key(limit: str, on: datetime.date, reference: str = "") -> str:
    """The key a bonus award is unique on, per member and bonus: "once" ever, the year ("2025"),
    the month ("2025-03"), or the reference (e.g. the referred member's number)."""
    if limit == ONCE:
        return "once"
    if limit == YEARLY:
        return f"{on.year:04d}"
    if limit == MONTHLY:
        return f"{on.year:04d}-{on.month:02d}"
    if limit == PER_REFERENCE:
        if not reference:
            raise ValueError("A bonus limited per reference needs a reference.")
        return f"ref:{reference}"
    raise ValueError(f"Unknown bonus limit {limit!r}.")


def birthdays_on(day: datetime.date) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated on `day`: its own, plus 29 February on 28 February
    of a year that has no 29 February."""
    dates = [(day.month, day.day)]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        dates.append((2, 29))
    return dates


def membership_ends_on(starts_on: datetime.date, months: int) -> datetime.date:
    """The last day of a membership of `months` months from `starts_on` (inclusive): the day
    before the same day `months` later (1 March 2025 + 12 months ends on 28 February 2026); when
    that month is too short for the day, its last day (31 January + 1 month ends on 28 February,
    29 February 2024 + 12 months on 28 February 2025)."""
    if months < 1:
        raise ValueError(f"A membership lasts at least one month, not {months!r}.")
    same_day_later = _add_months(starts_on, months)
    if same_day_later.day < starts_on.day:  # the month was too short: it ends on its last day
        return same_day_later
    return same_day_later - datetime.timedelta(days=1)


# --- paying with points ----------------------------------------------------------------------

CENT = Decimal("0.01")

# Why fewer points than asked were used (the quote translates them into a message).
POINTS_WALK_IN = "walk_in"
POINTS_OFF = "off"
POINTS_BELOW_MINIMUM = "below_minimum"
POINTS_BALANCE = "balance"
POINTS_CAP = "cap"
POINTS_STEP = "step"


@dataclass(frozen=True)
class PointsPaymentTerms:
    """The paying-with-points settings as the arithmetic sees them."""

    points_per_yuan: int = 100
    max_percent: int = 50
    min_points: int = 100


@dataclass(frozen=True)
class PointsPayment:
    points_max: int  # the most points usable on this order now (0: none)
    points_used: int  # what was asked, clamped to [0, points_max] (0 below the minimum)
    points_value: Decimal  # the yuan the used points pay, exact to the cent
    amount_due: Decimal  # the order's total less points_value: what is paid in money
    short_by: str = ""  # "" or why fewer points than asked were used (POINTS_*)


def points_step(points_per_yuan: int) -> int:
    """The fewest points worth a whole number of cents: points are used in multiples of it, so
    the yuan they pay is exact (100 points = ¥1: 1 point = 1 cent, step 1; 30 points = ¥1: 3
    points = 10 cents, step 3)."""
    return points_per_yuan // math.gcd(points_per_yuan, 100)


def points_value(points: int, points_per_yuan: int) -> Decimal:
    """The yuan `points` pay, exact to the cent when `points` is a multiple of `points_step`."""
    return (Decimal(points) / Decimal(points_per_yuan)).quantize(CENT, rounding=ROUND_FLOOR)


def points_payment(
    *, total: Decimal, payable: Decimal, balance: int, asked: int, terms: PointsPaymentTerms | None
) -> PointsPayment:
    """How many of the `asked` points pay an order of `total`, of which `payable` may be paid with
    points (the total, or the total less delivery when points may not pay it).

    points_max = the largest multiple of the step within min(balance, max_percent % of `payable` in
    points, rounded down); below the minimum per use it is 0. points_used = `asked` clamped to
    [0, points_max], rounded down to the step; below the minimum it is 0. `terms` None: a walk-in
    (no points at all).
    """
    total = max(Decimal(total), Decimal("0.00"))
    asked = max(int(asked or 0), 0)
    if terms is None:
        return PointsPayment(0, 0, Decimal("0.00"), total, POINTS_WALK_IN if asked else "")
    step = points_step(terms.points_per_yuan)
    cap_yuan = (max(min(Decimal(payable), total), Decimal("0")) * terms.max_percent / 100).quantize(
        CENT, rounding=ROUND_FLOOR
    )
    cap_points = int(cap_yuan * terms.points_per_yuan)  # cents × rate / 100: whole when exact
    most = min(max(balance, 0), cap_points) // step * step
    minimum = max(terms.min_points, 1)
    points_max = most if most >= minimum else 0
    used = min(asked, points_max) // step * step
    if used < minimum:
        used = 0
    short_by = ""
    if asked > used:
        if terms.max_percent == 0:
            short_by = POINTS_OFF
        elif asked < minimum:
            short_by = POINTS_BELOW_MINIMUM
        elif asked > balance:
            short_by = POINTS_BALANCE
        elif asked > cap_points:
            short_by = POINTS_CAP
        elif used < minimum:
            short_by = POINTS_BELOW_MINIMUM
        else:
            short_by = POINTS_STEP
    value = points_value(used, terms.points_per_yuan)
    return PointsPayment(points_max, used, value, total - value, short_by)


# --- returns by line -------------------------------------------------------------------------


def returned_weight(lines: Sequence[tuple[Decimal, int, int]]) -> tuple[Decimal, Decimal]:
    """(returned value, value of all lines) of a purchase's lines given as (line_total, quantity,
    returned quantity): each returned unit weighs its line's total per unit."""
    whole = sum((Decimal(total) for total, _quantity, _returned in lines), Decimal("0"))
    returned = sum(
        (Decimal(total) * returned / quantity for total, quantity, returned in lines if quantity), Decimal("0")
    )
    return returned, whole


def share_of(amount: Decimal, *, returned: Decimal, whole: Decimal) -> Decimal:
    """The cumulative money to have refunded once `returned` of `whole` came back: the same share
    of `amount`, rounded down to the cent (all of it once everything is back)."""
    if whole <= 0 or returned <= 0:
        return Decimal("0.00")
    if returned >= whole:
        return Decimal(amount)
    return (Decimal(amount) * returned / whole).quantize(CENT, rounding=ROUND_FLOOR)


def points_share_of(points: int, *, returned: Decimal, whole: Decimal) -> int:
    """`share_of` for points: rounded down, all of them once everything is back."""
    if whole <= 0 or returned <= 0 or points <= 0:
        return 0
    if returned >= whole:
        return points
    return math.floor(Decimal(points) * returned / whole)


def care_plan_ends_on(starts_on: datetime.date, duration: int, unit: str) -> datetime.date:
    """The last day a care plan covers (inclusive): `duration` days from `starts_on` (7 days from
    1 March end on 7 March), or `duration` months as a paid membership counts them."""
    if duration < 1:
        raise ValueError(f"A care plan lasts at least one day or month, not {duration!r}.")
    if unit == "months":
        return membership_ends_on(starts_on, duration)
    return starts_on + datetime.timedelta(days=duration - 1)


def category_covered(category_id: int | None, covered: set[int], parents: dict[int, int | None]) -> bool:
    """Whether `category_id` is one of `covered` or below one of them (`parents`: id → parent id)."""
    seen: set[int] = set()
    while category_id is not None and category_id not in seen:
        if category_id in covered:
            return True
        seen.add(category_id)
        category_id = parents.get(category_id)
    return False
