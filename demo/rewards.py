"""The demo's rewards slice: the catalogue, paid plans and promotions, then a year of their use —
memberships bought, points redeemed, coupons issued, held and used.

Sales, redemptions and coupons go through `rewards.services` (at past moments, `demo.clock`).
The catalogue rows the shop configures in the admin (coupon templates, plans, promotions) have
no service of their own: they are validated with `full_clean()` and saved, as the admin's forms do.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from demo.clock import at, day_at, days_before
from demo.configured import configured
from demo.data import document
from members.models import Member, Store
from rewards.errors import RewardsError
from rewards.models import Coupon, CouponTemplate, MembershipPlan, PointsAccount, Promotion, Reward, Tier
from rewards.services.catalogue import create_reward
from rewards.services.coupons import issue_coupon, redeem_coupon
from rewards.services.memberships import buy_membership
from rewards.services.redemptions import redeem_reward


@dataclass
class RewardsCounts:
    coupon_templates: int = 0
    rewards: int = 0
    plans: int = 0
    promotions: int = 0
    paid_members: int = 0
    redemptions: int = 0
    coupons_issued: int = 0
    coupons_used: int = 0
    templates: dict[str, CouponTemplate] = field(default_factory=dict, repr=False)


def ensure_catalogue(counts: RewardsCounts) -> None:
    """Coupon templates, rewards, a paid plan and promotions (kept as they are when they exist)."""
    data = document("rewards")
    for row in data["coupon_templates"]:
        template = CouponTemplate.objects.filter(name=row["name"]).first()
        if template is None:
            template = configured(
                CouponTemplate(
                    name=row["name"],
                    kind=row["kind"],
                    value=Decimal(row["value"]),
                    min_spend=Decimal(row["min_spend"]),
                    valid_days=row.get("valid_days"),
                    per_member_limit=row.get("per_member_limit"),
                )
            )
            counts.coupon_templates += 1
        counts.templates[row["key"]] = template
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    for row in data["rewards"]:
        if Reward.objects.filter(name=row["name"]).exists():
            continue
        create_reward(
            name=row["name"],
            kind=row["kind"],
            description=row.get("description", ""),
            points_cost=row["points_cost"],
            stock=row.get("stock"),
            min_tier=tiers.get(row.get("min_tier", "")),
            coupon_template=counts.templates.get(row.get("coupon_template", "")),
        )
        counts.rewards += 1
    for row in data["plans"]:
        if not MembershipPlan.objects.filter(code=row["code"]).exists():
            configured(MembershipPlan(**{**row, "price": Decimal(row["price"])}))
            counts.plans += 1


def ensure_promotions(counts: RewardsCounts, *, horizon: datetime.datetime) -> None:
    """A past double-points day, a past store-opening bonus week and an upcoming weekend."""
    stores = {store.code: store for store in Store.objects.all()}
    for row in document("rewards")["promotions"]:
        if Promotion.objects.filter(name=row["name"]).exists():
            continue
        offset = -row["days_ago"] if "days_ago" in row else row["days_ahead"]
        starts_at = day_at(horizon.date() + datetime.timedelta(days=offset), 0)
        promotion = configured(
            Promotion(
                name=row["name"],
                kind=row["kind"],
                multiplier=Decimal(row["multiplier"]) if "multiplier" in row else None,
                bonus_points=row.get("bonus_points"),
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(days=row["days"]),
            )
        )
        promotion.stores.set([stores[code] for code in row.get("stores", []) if code in stores])
        counts.promotions += 1


def seed_activity(
    counts: RewardsCounts, *, members: list[Member], rng: random.Random, horizon: datetime.datetime, staff
) -> None:
    """Paid members, redemptions of points and coupons held and used, by the members seeded now."""
    shares = document("rewards")["shares"]
    plan = MembershipPlan.objects.filter(is_active=True).order_by("pk").first()
    if plan is not None:
        for member in _sample(rng, members, shares["paid_members"]):
            with at(days_before(horizon, rng, 330, 1)) as moment:
                buy_membership(
                    member=member,
                    plan=plan,
                    external_ref=f"DEMO-PLAN-{member.member_no}",
                    actor=staff,
                    starts_on=moment.date(),
                )
            counts.paid_members += 1
    # Redemptions in the last month, of what each member can afford (points earned this year).
    rewards = list(Reward.objects.filter(is_active=True).order_by("points_cost", "pk"))
    balances = dict(PointsAccount.objects.filter(member__in=members, balance__gt=0).values_list("member_id", "balance"))
    rich = [member for member in members if balances.get(member.pk, 0) >= (rewards[0].points_cost if rewards else 1)]
    for member in _sample(rng, rich, shares["redeemers"] * len(members) / max(1, len(rich))):
        affordable = [reward for reward in rewards if reward.points_cost <= balances[member.pk]]
        reward = rng.choice(affordable)
        with at(days_before(horizon, rng, 28, 2)):
            try:
                result = redeem_reward(
                    member=member, reward=reward, idempotency_key=f"demo-{member.member_no}-1", actor=staff
                )
            except RewardsError:  # a tier or stock rule said no: so would the counter
                continue
        counts.redemptions += 1
        counts.coupons_issued += len(result.coupons)
    birthday = counts.templates.get("birthday")
    if birthday is not None:
        for member in _sample(rng, members, shares["birthday_coupons"]):
            with at(days_before(horizon, rng, 25, 2)):
                try:
                    issue_coupon(template=birthday, member=member, source=Coupon.Source.MANUAL, actor=staff)
                except RewardsError:
                    continue
            counts.coupons_issued += 1
    # Some coupons still valid are used at the counter during the last day.
    held = list(
        Coupon.objects.filter(
            status=Coupon.Status.ISSUED,
            member__in=members,
            min_spend=0,
            issued_at__lt=horizon - datetime.timedelta(hours=10),
            expires_at__gt=horizon,
        )
        .select_related("member")
        .order_by("pk")
    )
    for coupon in _sample(rng, held, shares["coupon_used"]):
        with at(horizon - datetime.timedelta(hours=rng.randint(2, 10))):
            redeem_coupon(
                code=coupon.code,
                member=coupon.member,
                external_ref=f"DEMO-USE-{coupon.pk}",
                order_total=Decimal("199.00"),
                actor=staff,
            )
        counts.coupons_used += 1


def _sample(rng: random.Random, items: list, share: float) -> list:
    """A deterministic share of `items`, in their order."""
    count = min(len(items), round(len(items) * min(share, 1.0)))
    chosen = set(rng.sample(range(len(items)), count))
    return [item for index, item in enumerate(items) if index in chosen]
