"""Test data for classification and segments: members and purchases at exact local times."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

from members.models import Member, Purchase
from tests.members import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")
_refs = itertools.count(1)


def at(day: str, time: str = "12:00") -> datetime.datetime:
    """A local (Asia/Shanghai) time, e.g. at("2026-06-30", "23:30")."""
    return datetime.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)


def member(name: str = "会员", **kwargs) -> Member:
    return factories.member(name=name, **kwargs)


def buy(member: Member, total: str, when: datetime.datetime, refunded: str = "0.00") -> Purchase:
    """A purchase row as the members service stores it (test data only: no points are earned)."""
    purchase = factories.purchase(member, total=total, ordered_at=when, ref=f"T-{next(_refs):07d}")
    if Decimal(refunded):
        Purchase.objects.filter(pk=purchase.pk).update(refunded_total=Decimal(refunded))
    return purchase
