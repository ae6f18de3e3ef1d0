"""Demo data for the programme analytics (issue 18): a year of walk-in sales at the counters, so
members can be compared with customers who are not members month by month, and the product
recommendations computed once the year of purchases is in (the nightly task keeps them fresh).

Walk-ins are posted with `rewards.services.purchases.post_purchase` and no member, as the till
posts them (a walk-in earns nothing). Their references are `WALKIN-<seed>-<n>`, so a second run
adds new ones.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from demo.clock import days_before
from members.models import PaymentMethod, Product, Purchase, Store
from members.services import PurchaseLine, refresh_recommendations
from rewards.services.purchases import post_purchase

WALK_INS_PER_MEMBER = 0.12  # about one walk-in sale for eight members over the year
DAYS = 365


@dataclass
class AnalyticsCounts:
    walk_ins: int = 0
    recommendations: int = 0


def seed_walk_ins(
    counts: AnalyticsCounts,
    *,
    members: int,
    products: list[Product],
    stores: list[Store],
    rng: random.Random,
    horizon: datetime.datetime,
    seed: int,
) -> None:
    """Walk-in sales over the year before `horizon`: one or two of the cheaper products (passers-by
    buy a bunch, not the 99-rose box), in the shop's opening hours."""
    if not products:
        return
    cheap = sorted(products, key=lambda p: p.unit_price)[: max(3, len(products) // 2)]
    first = Purchase.objects.filter(member__isnull=True, external_ref__startswith=f"WALKIN-{seed}-").count()
    for n in range(first, first + int(members * WALK_INS_PER_MEMBER)):
        day = days_before(horizon, rng, DAYS, 1)
        chosen = rng.sample(cheap, k=min(len(cheap), rng.choice([1, 1, 2])))
        post_purchase(  # the till's one path for a walk-in sale (no points, no ledger)
            member=None,
            external_ref=f"WALKIN-{seed}-{n:06d}",
            ordered_at=day,
            items=[PurchaseLine(sku=p.sku, name=p.name, quantity=1, unit_price=p.unit_price) for p in chosen],
            store=rng.choice(stores) if stores else None,
            payment_method=rng.choice([PaymentMethod.CASH, PaymentMethod.WECHAT_PAY, PaymentMethod.ALIPAY]),
        )
        counts.walk_ins += 1


def compute_recommendations(counts: AnalyticsCounts, *, horizon: datetime.datetime) -> None:
    counts.recommendations = refresh_recommendations(now=horizon).rows
