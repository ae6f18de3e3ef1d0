"""Helpers for care-plan tests: a plan, a member's purchase of a covered product, a sale."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.utils import timezone

from members.services import PurchaseLine
from rewards import services
from rewards.models import CarePlan
from tests.members import factories

_keys = itertools.count(1)
DAY = datetime.date(2026, 5, 1)


def key(prefix: str = "K") -> str:
    return f"{prefix}-{next(_keys):06d}"


def noon(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


def plan(*, code: str = "flower-care", products=(), categories=(), **fields) -> CarePlan:
    defaults = {
        "name": "鲜花养护计划",
        "coverage": "7天内花材枯萎免费更换一次",
        "price": Decimal("19.90"),
        "duration": 7,
        "duration_unit": CarePlan.DurationUnit.DAYS,
        "claims_allowed": 1,
        "sell_within_days": 0,
    }
    defaults.update(fields)
    care_plan = CarePlan.objects.create(code=code, **defaults)
    care_plan.products.set(products)
    care_plan.categories.set(categories)
    return care_plan


def bought(member, product=None, *, day: datetime.date = DAY, price: str | None = None):
    """The member's purchase line of `product` (the roses by default), posted on `day`."""
    product = product or factories.product()
    result = services.post_purchase(
        member=member,
        external_ref=key("POS"),
        ordered_at=min(noon(day), timezone.now()),  # today: now, never in the future
        items=[PurchaseLine(sku=product.sku, quantity=1, unit_price=(price and Decimal(price)) or product.unit_price)],
    )
    return result.purchase.items.get()


def sold(member=None, care_plan=None, *, product=None, day: datetime.date = DAY, **kwargs):
    member = member or factories.member()
    care_plan = care_plan or plan(products=[factories.product()])
    item = bought(member, product, day=day)
    return services.sell_care_plan(
        member=member, plan=care_plan, purchase_item=item, idempotency_key=key("SALE"), today=day, **kwargs
    ).sale
