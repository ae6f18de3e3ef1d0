"""Versions of the terms of membership and the privacy notice, and members' acceptances (issue 15).

Rules enforced here:
- a draft version may be edited; `publish_terms_version` publishes it, after which it never
  changes (`TermsVersion` refuses to save a published row; a correction is a new version);
- the current version of a kind is its latest published one;
- a member accepts the current versions on joining and again whenever a newer one is published:
  `pending_terms(member)` lists what is still to accept (the member centre's pages and API stop
  there until it is accepted); an acceptance is recorded once per version, with when, from where
  and the keyed hash of the client address (never the address).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm.errors import DomainError
from members.models import Member, TermsAcceptance, TermsVersion


class TermsNotCurrent(DomainError):
    """The member tried to accept a version that is not (or no longer) the current one."""

    code = "terms_not_current"


def current_terms() -> list[TermsVersion]:
    """The current version of each kind that has one published (terms first, then privacy)."""
    current: dict[str, TermsVersion] = {}
    for version in TermsVersion.objects.filter(published_at__isnull=False).order_by("kind", "-published_at", "-id"):
        current.setdefault(version.kind, version)
    return [current[kind] for kind in TermsVersion.Kind.values if kind in current]


def pending_terms(member: Member) -> list[TermsVersion]:
    """The current versions `member` has not accepted yet (one query)."""
    accepted = TermsAcceptance.objects.filter(member=member, version=OuterRef("pk"))
    current: dict[str, TermsVersion] = {}
    rows = (
        TermsVersion.objects.filter(published_at__isnull=False)
        .annotate(accepted=Exists(accepted))
        .order_by("kind", "-published_at", "-id")
        .only("id", "kind", "version", "title", "published_at")
    )
    for version in rows:
        current.setdefault(version.kind, version)
    return [current[kind] for kind in TermsVersion.Kind.values if kind in current and not current[kind].accepted]


@transaction.atomic
def publish_terms_version(*, version: TermsVersion, actor=None) -> TermsVersion:
    """Publish a draft: from now on it is the current version of its kind and cannot change."""
    version = TermsVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError(_("This version is already published."))
    if not (version.text or "").strip():
        raise ValidationError({"text": [_("A version needs its text before it is published.")]})
    TermsVersion.objects.filter(pk=version.pk).update(published_at=timezone.now(), published_by=actor)
    version.refresh_from_db()
    return version


def accept_terms(
    *,
    member: Member,
    versions: Iterable[TermsVersion],
    source: str = TermsAcceptance.Source.WEB,
    client_ip: str = "",
) -> list[TermsAcceptance]:
    """Record that `member` accepted `versions` (each must be current). Idempotent: a version
    accepted before keeps its first acceptance."""
    from members.services.otp import address_hash

    versions = list(versions)
    current_ids = {version.pk for version in current_terms()}
    stale = [version for version in versions if version.pk not in current_ids]
    if stale:
        raise TermsNotCurrent(
            _("“%(version)s” is not the current version; reload the page and accept the current one.")
            % {"version": stale[0]}
        )
    if source not in TermsAcceptance.Source.values:
        raise ValidationError({"source": [_("Unknown source.")]})
    now = timezone.now()
    client_hash = address_hash(client_ip)
    recorded = []
    for version in versions:
        try:
            with transaction.atomic():
                acceptance, _created = TermsAcceptance.objects.get_or_create(
                    member=member,
                    version=version,
                    defaults={"accepted_at": now, "source": source, "client_hash": client_hash},
                )
        except IntegrityError:  # accepted at the same moment elsewhere
            acceptance = TermsAcceptance.objects.get(member=member, version=version)
        recorded.append(acceptance)
    return recorded


def terms_versions_by_ids(ids: Iterable[int]) -> list[TermsVersion]:
    ids = [int(pk) for pk in ids]
    return list(TermsVersion.objects.filter(pk__in=ids, published_at__isnull=False).order_by("kind"))


def record_terms_accepted(
    *,
    member_ids: Iterable[int],
    versions: Iterable[TermsVersion],
    source: str = TermsAcceptance.Source.STAFF,
    at=None,
) -> int:
    """The bulk form of `accept_terms` (members who accepted on paper at a counter, an import, the
    demo): each member accepts each version once; versions accepted before keep their first
    acceptance. Returns the number of rows written (at most; conflicts are skipped)."""
    if source not in TermsAcceptance.Source.values:
        raise ValidationError({"source": [_("Unknown source.")]})
    at = at or timezone.now()
    rows = [
        TermsAcceptance(member_id=member_id, version=version, accepted_at=at, source=source)
        for member_id in member_ids
        for version in versions
    ]
    TermsAcceptance.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len(rows)
