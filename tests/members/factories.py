"""Factories that go through the `members` services, so tests build data the way the product does."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.utils import timezone

from members import services
from members.models import Category, Product, Store

_phones = itertools.count(13800000000)
_refs = itertools.count(1)


def next_phone() -> str:
    return str(next(_phones))


def store(code: str = "sh-001", name: str = "上海南京西路店", city: str = "上海") -> Store:
    return Store.objects.get_or_create(code=code, defaults={"name": name, "city": city})[0]


def category(code: str = "roses", name: str = "玫瑰") -> Category:
    return Category.objects.get_or_create(code=code, defaults={"name": name})[0]


def product(
    sku: str = "ROSE-11", name: str = "11枝红玫瑰花束", price: str = "199.00", cat: Category | None = None
) -> Product:
    return Product.objects.get_or_create(
        sku=sku, defaults={"name": name, "unit_price": Decimal(price), "category": cat or category()}
    )[0]


def member(name: str = "王小明", phone: str | None = None, **kwargs):
    return services.create_member(name=name, phone=phone or next_phone(), **kwargs)


def purchase(
    member, total: str = "199.00", ref: str | None = None, ordered_at: datetime.datetime | None = None, **kwargs
):
    line = services.PurchaseLine(sku=product().sku, quantity=1, unit_price=Decimal(total))
    return services.record_purchase(
        member=member,
        external_ref=ref or f"ORD-{next(_refs):06d}",
        ordered_at=ordered_at or timezone.now() - datetime.timedelta(days=1),
        items=[line],
        **kwargs,
    )
