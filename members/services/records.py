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
from members.summaries import Summary

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


@transaction.atomic
def add_care_plan_claim_record(
    *, member: Member, plan_name: str, description: str, store=None, actor=None
) -> ServiceRecord:
    """The service record of a care-plan claim (kind "care-plan claim", open), for `rewards`' claim
    service: the plan's name as a parameter, the member's description as the typed text."""
    summary_field = ServiceRecord._meta.get_field("summary")
    return add_service_record(
        member=member,
        kind=ServiceRecord.Kind.CARE_CLAIM,
        summary=description[: summary_field.max_length],
        summary_code=Summary.CARE_PLAN_CLAIM,
        summary_params={"plan": plan_name},
        details=description,
        store=store,
        actor=actor,
    )


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
def set_preferences(*, member: Member, kind: str, values=(), categories=(), actor=None) -> list[Preference]:
    """Make the member's preferences of `kind` exactly `values` (text) or `categories`: the ones no
    longer wanted are removed, the new ones added through `add_preference`, unchanged ones kept
    (with their dates). Free-form preferences (with a key) are staff's and not handled here."""
    if kind not in Preference.Kind.values or kind == Preference.Kind.CUSTOM:
        raise ValidationError({"kind": [_("“%(value)s” is not a preference kind.") % {"value": kind}]})
    refuse_erased(member)
    wanted_values = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    wanted_categories = {category.pk: category for category in categories}
    for value in wanted_values:
        if len(value) > Preference._meta.get_field("value").max_length:
            raise ValidationError({"value": [_("“%(value)s” is too long.") % {"value": value[:20]}]})
    current = list(Preference.objects.select_for_update().filter(member=member, kind=kind).order_by("pk"))
    keep, remove = [], []
    for preference in current:
        if preference.category_id and preference.category_id in wanted_categories:
            del wanted_categories[preference.category_id]
            keep.append(preference)
        elif not preference.category_id and not preference.product_id and preference.value in wanted_values:
            wanted_values.remove(preference.value)
            keep.append(preference)
        else:
            remove.append(preference.pk)
    if remove:
        Preference.objects.filter(pk__in=remove).delete()
    added = [add_preference(member=member, kind=kind, category=c, actor=actor) for c in wanted_categories.values()]
    added += [add_preference(member=member, kind=kind, value=v, actor=actor) for v in wanted_values]
    return keep + added


@transaction.atomic
def add_interaction(*, member: Member, kind: str, channel: str, summary: str, actor=None, **fields) -> Interaction:
    fields.setdefault("staff", actor if getattr(actor, "is_authenticated", False) else None)
    interaction = _create_record(Interaction, member=member, kind=kind, channel=channel, summary=summary, **fields)
    signals.send_after_commit(signals.interaction_recorded, sender=Interaction, interaction=interaction, actor=actor)
    return interaction
