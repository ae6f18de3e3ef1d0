"""The demo's last day at the till (收银台): a few sales rung up through the till's services at past
moments — members paying with the tier discount, a coupon and points, walk-in customers — and one
return of a line, so the till's receipts and the returns page have something to open.

Each sale goes through `post_purchase(apply_member_pricing=True)` exactly as the till's confirm does
(its key a `TILL-…` reference drawn from the seed), and the return through
`refund_purchase(lines=…)`.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from demo.clock import at
from members.models import Member, PaymentMethod, Product, Store
from members.services import PurchaseLine
from rewards.errors import RewardsError
from rewards.models import Coupon, PointsAccount
from rewards.services import post_purchase, refund_purchase
from rewards.services.checkout import quote_checkout

MEMBER_SALES = 6
WALK_IN_SALES = 3
POINTS_TO_USE = 500


@dataclass
class TillCounts:
    sales: int = 0
    walk_ins: int = 0
    with_points: int = 0
    with_coupon: int = 0
    returns: int = 0


def _key(rng: random.Random, prefix: str = "TILL") -> str:
    return f"{prefix}-{rng.getrandbits(128):032x}"


def _basket(rng: random.Random, products: list[Product]) -> list[PurchaseLine]:
    chosen = rng.sample(products, k=min(len(products), rng.randint(1, 3)))
    return [
        PurchaseLine(sku=product.sku, name=product.name, quantity=rng.randint(1, 2), unit_price=product.unit_price)
        for product in chosen
    ]


def seed_till_sales(
    counts: TillCounts,
    *,
    members: list[Member],
    products: list[Product],
    store: Store | None,
    rng: random.Random,
    horizon: datetime.datetime,
    staff,
) -> None:
    """Sales at the till during the last day before `horizon`, then one line returned."""
    products = [product for product in products if product.is_active and product.unit_price > 0]
    if not members or not products:
        return
    balances = dict(
        PointsAccount.objects.filter(member__in=members, balance__gte=POINTS_TO_USE * 4).values_list(
            "member_id", "balance"
        )
    )
    coupons = {
        coupon.member_id: coupon.code
        for coupon in Coupon.objects.filter(status=Coupon.Status.ISSUED, member__in=members, min_spend=0)
        .filter(expires_at__gt=horizon)
        .order_by("pk")
    }
    with_points = [member for member in members if member.pk in balances]
    buyers = rng.sample(with_points, k=min(len(with_points), MEMBER_SALES // 2))
    others = [member for member in members if member.pk not in {buyer.pk for buyer in buyers}]
    buyers += rng.sample(others, k=min(len(others), MEMBER_SALES - len(buyers)))
    sales = []
    for hour, member in zip(range(9, 9 + len(buyers)), buyers, strict=False):
        items = _basket(rng, products)
        coupon_code = coupons.get(member.pk)
        points = POINTS_TO_USE if member.pk in balances else 0
        moment = horizon - datetime.timedelta(hours=24 - hour, minutes=rng.randint(0, 50))
        with at(moment):
            # As at the till: use what the quote allows (a coupon below its minimum is left out).
            quote = quote_checkout(member=member, items=items, coupon_code=coupon_code, points_to_use=points)
            try:
                result = post_purchase(
                    member=member,
                    external_ref=_key(rng),
                    ordered_at=moment,
                    items=items,
                    store=store,
                    payment_method=rng.choice([PaymentMethod.WECHAT_PAY, PaymentMethod.ALIPAY, PaymentMethod.CARD]),
                    coupon_code=coupon_code if quote.coupon is not None and quote.coupon.valid else None,
                    points_to_use=quote.points_used,
                    apply_member_pricing=True,
                    actor=staff,
                )
            except RewardsError:  # the counter would have said no: so does the demo
                continue
        sales.append(result.purchase)
        counts.sales += 1
        counts.with_points += bool(quote.points_used)
        counts.with_coupon += bool(quote.coupon is not None and quote.coupon.valid)
    for index in range(WALK_IN_SALES):
        moment = horizon - datetime.timedelta(hours=6 - index, minutes=rng.randint(0, 50))
        with at(moment):
            post_purchase(
                member=None,
                external_ref=_key(rng),
                ordered_at=moment,
                items=_basket(rng, products),
                store=store,
                payment_method=PaymentMethod.CASH,
                apply_member_pricing=True,
                actor=staff,
            )
        counts.sales += 1
        counts.walk_ins += 1
    # One customer brings back one piece of the first line of an earlier sale.
    if sales:
        purchase = sales[0]
        item = purchase.items.order_by("pk").first()
        with at(horizon - datetime.timedelta(hours=1)):
            refund_purchase(purchase=purchase, external_ref=_key(rng, "RET"), lines=[(item.pk, 1)], actor=staff)
        counts.returns += 1
