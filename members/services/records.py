"""Service records, preferences and interactions, each with who recorded it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import signals
from members.models import (
    Interaction,
    Member,
    Preference,
    ServiceRecord,
)
from members.services._common import refuse_erased

# --- service records, preferences, interactions -------------------------------------------


def _create_record(model, *, member: Member, **fields):
    refuse_erased(member)
    record = model(member=member, **fields)
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def add_service_record(*, member: Member, kind: str, summary: str, actor=None, **fields) -> ServiceRecord:
    fields.setdefault("staff", actor if getattr(actor, "is_authenticated", False) else None)
    return _create_record(ServiceRecord, member=member, kind=kind, summary=summary, **fields)


SERVICE_RECORD_FIELDS = {"kind", "status", "store", "staff", "summary", "details", "opened_at", "closed_at"}


@transaction.atomic
def update_service_record(*, record: ServiceRecord, actor=None, **changes) -> ServiceRecord:
    """Change a service record; closing it (done or cancelled) stamps `closed_at`, reopening clears it."""
    record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
    refuse_erased(record.member)
    unknown = set(changes) - SERVICE_RECORD_FIELDS
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    for field, value in changes.items():
        setattr(record, field, value)
    closed = {ServiceRecord.Status.DONE, ServiceRecord.Status.CANCELLED}
    if record.status in closed and record.closed_at is None:
        record.closed_at = timezone.now()
    elif record.status not in closed:
        record.closed_at = None
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def add_preference(*, member: Member, kind: str, actor=None, **fields) -> Preference:
    if kind == Preference.Kind.CUSTOM and not fields.get("key"):
        raise ValidationError({"key": [_("A free-form preference needs a key.")]})
    if not any(fields.get(f) for f in ("value", "category", "product")):
        raise ValidationError({"value": [_("Give a value, a category or a product.")]})
    return _create_record(Preference, member=member, kind=kind, **fields)


@transaction.atomic
def add_interaction(*, member: Member, kind: str, channel: str, summary: str, actor=None, **fields) -> Interaction:
    fields.setdefault("staff", actor if getattr(actor, "is_authenticated", False) else None)
    interaction = _create_record(Interaction, member=member, kind=kind, channel=channel, summary=summary, **fields)
    signals.send_after_commit(signals.interaction_recorded, sender=Interaction, interaction=interaction, actor=actor)
    return interaction
