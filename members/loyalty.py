"""The hook through which `rewards` tells `members` a member's points and tier.

`members` must not compute points or tiers (DESIGN.md: members ← rewards), yet its API shows
`points_balance` and `tier`. Until `rewards` registers a provider, every member has 0 points
and the entry tier. `rewards` calls `register_provider()` from its `AppConfig.ready()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from members.models import Member


@dataclass(frozen=True)
class TierRef:
    code: str
    name: str


@dataclass(frozen=True)
class LoyaltySnapshot:
    points_balance: int
    tier: TierRef


class LoyaltyProvider(Protocol):
    def snapshots(self, members: list[Member]) -> dict[int, LoyaltySnapshot]:
        """Snapshots keyed by member id, for many members in a fixed number of queries."""

    def filter_by_tier(self, queryset: QuerySet, tier_code: str) -> QuerySet:
        """Members whose current tier has this code."""

    def tier_choices(self) -> list[tuple[str, str]]:
        """(code, translated name) of every tier, lowest first."""

    def record_purchase(self, **kwargs):
        """Record a purchase (keyword arguments of `members.services.record_purchase`) and, where
        the provider keeps points, earn them in the same transaction. Returns the Purchase."""

    def record_purchases(self, drafts: list, actor=None) -> list:
        """`record_purchase` for many `members.services.PurchaseDraft`s at once (bulk jobs such as
        the demo data), each member's in time order. Returns the Purchases in the drafts' order."""


class EntryTierProvider:
    """Before `rewards` exists: everyone has 0 points and the entry tier."""

    entry = ("regular", _("Regular"))

    def snapshots(self, members):
        tier = TierRef(code=self.entry[0], name=str(self.entry[1]))
        return {member.pk: LoyaltySnapshot(points_balance=0, tier=tier) for member in members}

    def filter_by_tier(self, queryset, tier_code):
        return queryset if tier_code == self.entry[0] else queryset.none()

    def tier_choices(self):
        return [(self.entry[0], str(self.entry[1]))]

    def record_purchase(self, **kwargs):
        from members.services import record_purchase

        return record_purchase(**kwargs)

    def record_purchases(self, drafts, actor=None):
        from members.services import record_purchases

        return record_purchases(drafts=drafts, actor=actor)


_provider: LoyaltyProvider = EntryTierProvider()


def register_provider(provider: LoyaltyProvider) -> None:
    global _provider
    _provider = provider


def snapshots(members: list[Member]) -> dict[int, LoyaltySnapshot]:
    return _provider.snapshots(list(members))


def snapshot(member: Member) -> LoyaltySnapshot:
    return snapshots([member])[member.pk]


def filter_by_tier(queryset: QuerySet, tier_code: str) -> QuerySet:
    return _provider.filter_by_tier(queryset, tier_code)


def tier_choices() -> list[tuple[str, str]]:
    return _provider.tier_choices()


def record_purchase(**kwargs):
    """What staff screens call to record a purchase: with `rewards`, points are earned too."""
    return _provider.record_purchase(**kwargs)


def record_purchases(drafts: list, actor=None) -> list:
    """Many purchases at once (the demo data): with `rewards`, they earn points as if posted one by one."""
    return _provider.record_purchases(drafts, actor=actor)
