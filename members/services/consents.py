"""Consents: changed only here, each change written to the consent history."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import (
    Consent,
    ConsentEvent,
    ConsentSource,
    ConsentTopic,
    Member,
)

# --- consent -------------------------------------------------------------------------------


@transaction.atomic
def set_consents(
    *,
    member: Member,
    consents: Mapping[str, bool],
    actor=None,
    source: str = ConsentSource.ADMIN,
    at: datetime.datetime | None = None,
) -> list[ConsentEvent]:
    """Grant or withdraw consents; each real change is recorded in the consent history at once."""
    topics = set(ConsentTopic.values)
    unknown = set(consents) - topics
    if unknown:
        raise ValidationError({"consents": [_("Unknown consent “%(topic)s”.") % {"topic": t} for t in sorted(unknown)]})
    return set_members_consents(changes={member.pk: consents}, actor=actor, source=source, at=at)


def set_members_consents(
    *,
    changes: Mapping[int, Mapping[str, bool]],
    actor=None,
    source: str = ConsentSource.ADMIN,
    at: datetime.datetime | None = None,
) -> list[ConsentEvent]:
    """The bulk form of `set_consents` (the import's), by member id: the same rule — only real
    changes are written, each with its event — in a fixed number of queries for any number of
    members. The consent rows are locked in primary-key order; topics must be known (the caller
    validated them)."""
    at = at or timezone.now()
    changes = {member_id: wanted for member_id, wanted in changes.items() if wanted}
    if not changes:
        return []
    current = {
        (consent.member_id, consent.topic): consent
        for consent in Consent.objects.select_for_update().filter(member_id__in=list(changes)).order_by("pk")
    }
    created, granted_ids, withdrawn_ids, events = [], [], [], []
    for member_id, wanted in changes.items():
        for topic, granted in sorted(wanted.items()):
            granted = bool(granted)
            consent = current.get((member_id, topic))
            if consent is not None and consent.granted == granted:
                continue
            if consent is None:
                created.append(Consent(member_id=member_id, topic=topic, granted=granted, updated_at=at))
            else:
                (granted_ids if granted else withdrawn_ids).append(consent.pk)
            events.append(
                ConsentEvent(member_id=member_id, topic=topic, granted=granted, at=at, actor=actor, source=source)
            )
    if created:
        Consent.objects.bulk_create(created)
    if granted_ids:
        Consent.objects.filter(pk__in=granted_ids).update(granted=True, updated_at=at)
    if withdrawn_ids:
        Consent.objects.filter(pk__in=withdrawn_ids).update(granted=False, updated_at=at)
    ConsentEvent.objects.bulk_create(events)
    return events


def consent_state(member: Member) -> dict[str, bool]:
    """Every consent topic of the member (absent means not granted)."""
    granted = dict(member.consents.values_list("topic", "granted"))
    return {topic: granted.get(topic, False) for topic in ConsentTopic.values}
