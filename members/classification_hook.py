"""The hook through which `campaigns` tells `members` a member's classification and RFM scores
(named `classification_hook` so it is not mistaken for the engine, `campaigns.services.classification`).

`members` must not import `campaigns` (docs/design.md: members ← rewards ← campaigns), yet the members
API shows `classification` and `rfm` and filters by `?classification=`. Until `campaigns`
registers a provider (from its `AppConfig.ready()`), no member has a classification.
Like `members.loyalty`, the provider answers for a whole page of members in a fixed number of
queries; a list that calls `prepare()` on its queryset gets the classifications in its own query.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from members.models import Member


@dataclass(frozen=True)
class RFM:
    recency: int | None  # quintile score 1–5 (5 = bought most recently)
    frequency: int | None
    monetary: int | None
    score: int | None  # recency + frequency + monetary, 3–15
    recency_days: int | None
    purchases_12m: int
    spend_12m: Decimal


@dataclass(frozen=True)
class ClassificationSnapshot:
    classification: str | None
    label: str
    rfm: RFM | None


NONE = ClassificationSnapshot(classification=None, label="", rfm=None)


class ClassificationProvider(Protocol):
    def prepare(self, queryset: QuerySet) -> QuerySet:
        """The member queryset with what `snapshots` needs loaded in the same query (a join)."""

    def snapshots(self, members: list[Member]) -> dict[int, ClassificationSnapshot]:
        """Snapshots keyed by member id, for many members in one query."""

    def filter_by_classification(self, queryset: QuerySet, codes: list[str]) -> QuerySet:
        """Members whose current classification is one of `codes`."""

    def choices(self) -> list[tuple[str, str]]:
        """(code, translated label) of every classification."""


class NoClassificationProvider:
    """Before `campaigns` exists: nobody is classified, and the filter matches nobody."""

    def prepare(self, queryset):
        return queryset

    def snapshots(self, members):
        return {member.pk: NONE for member in members}

    def filter_by_classification(self, queryset, codes):
        return queryset.none()

    def choices(self):
        return [
            ("high_value", str(_("High value"))),
            ("potential", str(_("Potential"))),
            ("ordinary", str(_("Ordinary"))),
            ("lapsed", str(_("Lapsed"))),
        ]


_provider: ClassificationProvider = NoClassificationProvider()


def register_provider(provider: ClassificationProvider) -> None:
    global _provider
    _provider = provider


def prepare(queryset: QuerySet) -> QuerySet:
    """Load classifications with the members themselves (lists call this, then `snapshots` needs
    no query of its own)."""
    return _provider.prepare(queryset)


def snapshots(members: list[Member]) -> dict[int, ClassificationSnapshot]:
    return _provider.snapshots(list(members))


def snapshot(member: Member) -> ClassificationSnapshot:
    return snapshots([member]).get(member.pk, NONE)


def filter_by_classification(queryset: QuerySet, codes: list[str]) -> QuerySet:
    return _provider.filter_by_classification(queryset, list(codes))


def choices() -> list[tuple[str, str]]:
    return _provider.choices()
