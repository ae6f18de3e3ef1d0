"""Factories for the reward catalogue and coupons, through the services where state is money-like."""

from __future__ import annotations

import itertools
from decimal import Decimal

from rewards import services
from rewards.models import CouponKind, CouponTemplate, Reward, RewardKind, Tier
from rewards.services import catalogue
from tests.members import factories

_keys = itertools.count(1)


def next_key() -> str:
    return f"redeem-{next(_keys):06d}"


def funded_member(points: int = 1000, **kwargs):
    """A member with `points` points (one adjustment lot)."""
    member = factories.member(**kwargs)
    if points:
        services.adjust_points(member=member, points=points, reason="test funds", actor=None)
    return member


def template(
    name: str = "¥20 off",
    kind: str = CouponKind.AMOUNT,
    value: str = "20.00",
    min_spend: str = "0.00",
    **kwargs,
) -> CouponTemplate:
    return CouponTemplate.objects.create(
        name=name, kind=kind, value=Decimal(value), min_spend=Decimal(min_spend), **kwargs
    )


def reward(
    name: str = "玫瑰花束",
    kind: str = RewardKind.PRODUCT,
    points_cost: int = 100,
    stock: int | None = None,
    min_tier: str | None = None,
    **kwargs,
) -> Reward:
    if kind == RewardKind.COUPON and "coupon_template" not in kwargs:
        kwargs["coupon_template"] = template()
    return catalogue.create_reward(
        name=name,
        kind=kind,
        points_cost=points_cost,
        stock=stock,
        min_tier=Tier.objects.get(code=min_tier) if min_tier else None,
        **kwargs,
    )
