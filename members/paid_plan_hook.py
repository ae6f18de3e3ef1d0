"""The hook through which `rewards` tells `members`-level code which members hold a paid plan.

`members` (and `feedback`, which depends on `members` only) must not import `rewards`
(docs/design.md: members ← rewards), yet support's priority rules ask "does this customer have a
paid membership in force?". Until `rewards` registers a provider (from its `AppConfig.ready()`),
nobody has one. Like `members.loyalty`, the provider answers for many members in one query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from members.models import Member


class PaidPlanProvider(Protocol):
    def plans_in_force(self, members: list[Member]) -> dict[int, str]:
        """Member id → the display name of the paid plan in force today, for those who hold one."""


class NoPaidPlanProvider:
    def plans_in_force(self, members):
        return {}


_provider: PaidPlanProvider = NoPaidPlanProvider()


def register_provider(provider: PaidPlanProvider) -> None:
    global _provider
    _provider = provider


def plans_in_force(members: list[Member]) -> dict[int, str]:
    return _provider.plans_in_force(list(members))
