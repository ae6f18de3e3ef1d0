"""The hook through which `rewards` tells `members` a member's points and tier.

`members` must not compute points or tiers (docs/design.md: members ← rewards), yet its API shows
`points_balance` and `tier`. Until `rewards` registers a provider, every member has 0 points
and the entry tier. `rewards` calls `register_provider()` from its `AppConfig.ready()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

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

    def member_tools(self, user, member: Member) -> list[tuple[str, str]]:
        """(label, URL) of the provider's staff pages for this member that `user` may open
        (e.g. "Redeem a reward"), shown as buttons on the member's page. No queries."""

    def member_panel(self, *, member: Member, request: HttpRequest) -> str:
        """The provider's panel for the member page, as safe HTML, or "" when the request's user may
        not see it. The provider reads its own parameters (e.g. the ledger page) from the request and
        checks its own permissions; a fixed number of queries whatever the member's history."""

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

    def member_tools(self, user, member):
        return []

    def member_panel(self, *, member, request):
        return ""  # no points without a provider; the member page's own panel shows the entry tier

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


def member_tools(user, member: Member) -> list[tuple[str, str]]:
    """Buttons the loyalty provider adds to a member's page for this user."""
    return _provider.member_tools(user, member)


def member_panel(*, member: Member, request: HttpRequest) -> str:
    """The provider's panel for the member page (safe HTML; "" when there is nothing to show)."""
    return _provider.member_panel(member=member, request=request)


def record_purchases(drafts: list, actor=None) -> list:
    """Many purchases at once (the demo data): with `rewards`, they earn points as if posted one by one."""
    return _provider.record_purchases(drafts, actor=actor)
