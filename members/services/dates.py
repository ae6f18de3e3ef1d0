"""Members' important dates (anniversary, a partner's birthday, a custom date): the only writer.

Rules enforced here:
- a month/day that exists in some year (29 February is allowed; 31 April is not), an optional year
  from 1900 to this year, a label for a custom date (at most 60 characters);
- at most MAX_DATES dates a member;
- the member's data-processing consent ("资料处理") must be granted: dates are profile data used for
  greetings. `consent=True` (the member ticked it in the member centre, or told staff) grants it in
  the same transaction, through `set_consents`, so the grant is in the consent history;
- an erased member's dates cannot be written (erasure deletes them).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Consent, ConsentSource, ConsentTopic, ImportantDate, Member
from members.services._common import refuse_erased
from members.services.consents import set_consents

MAX_DATES = 20
MAX_LABEL = 60
DATE_FIELDS = ("kind", "label", "month", "day", "year")


def _clean(*, kind, label, month, day, year) -> dict:
    """The fields in stored form, or a ValidationError naming each bad one."""
    errors: dict[str, list[str]] = {}
    if kind not in ImportantDate.Kind.values:
        errors["kind"] = [_("Choose anniversary, partner's birthday or another date.")]
    label = (label or "").strip()
    if kind == ImportantDate.Kind.CUSTOM and not label:
        errors["label"] = [_("Say what the date is.")]
    elif len(label) > MAX_LABEL:
        errors["label"] = [_("Use at most %(n)d characters.") % {"n": MAX_LABEL}]
    numbers = {}
    for name, value in (("month", month), ("day", day), ("year", year)):
        if value in (None, "") and name == "year":
            numbers[name] = None
            continue
        try:
            if isinstance(value, bool):
                raise TypeError
            numbers[name] = int(value)
        except (TypeError, ValueError):
            errors[name] = [_("Enter a whole number.")]
    this_year = timezone.localdate().year
    if "month" in numbers and not 1 <= numbers["month"] <= 12:
        errors["month"] = [_("Enter a month from 1 to 12.")]
    elif "month" in numbers and "day" in numbers:
        try:
            datetime.date(2000, numbers["month"], numbers["day"])  # a leap year: 29 February exists
        except ValueError:
            errors["day"] = [_("This month has no such day.")]
    if numbers.get("year") is not None:
        if not 1900 <= numbers["year"] <= this_year:
            errors["year"] = [_("Enter a year from 1900 to %(year)d.") % {"year": this_year}]
        elif not errors and numbers["month"] == 2 and numbers["day"] == 29:
            try:
                datetime.date(numbers["year"], 2, 29)
            except ValueError:
                errors["day"] = [_("This month has no such day.")]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "label": label if kind == ImportantDate.Kind.CUSTOM else "",
        "month": numbers["month"],
        "day": numbers["day"],
        "year": str(numbers["year"]) if numbers["year"] is not None else "",
    }


def _require_consent(*, member: Member, consent: bool, actor, source: str) -> None:
    granted = Consent.objects.filter(member=member, topic=ConsentTopic.DATA_PROCESSING, granted=True).exists()
    if granted:
        return
    if not consent:
        raise ValidationError(
            {"consent": [_("The member's consent to data processing is needed to keep important dates.")]}
        )
    set_consents(member=member, consents={ConsentTopic.DATA_PROCESSING: True}, actor=actor, source=source)


@transaction.atomic
def add_important_date(
    *,
    member: Member,
    kind: str,
    month,
    day,
    year=None,
    label: str = "",
    consent: bool = False,
    actor=None,
    source: str = ConsentSource.ADMIN,
) -> ImportantDate:
    """Add one important date to the member (rules in the module docstring)."""
    member = Member.objects.select_for_update().get(pk=member.pk)  # the count below holds under the lock
    refuse_erased(member)
    fields = _clean(kind=kind, label=label, month=month, day=day, year=year)
    if ImportantDate.objects.filter(member=member).count() >= MAX_DATES:
        raise ValidationError({"kind": [_("A member can keep at most %(n)d important dates.") % {"n": MAX_DATES}]})
    _require_consent(member=member, consent=consent, actor=actor, source=source)
    return ImportantDate.objects.create(member=member, **fields)


@transaction.atomic
def update_important_date(
    *, important_date: ImportantDate, consent: bool = False, actor=None, source: str = ConsentSource.ADMIN, **changes
) -> ImportantDate:
    """Change a date's kind, label, month, day or year (the same checks as adding one)."""
    unknown = set(changes) - set(DATE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    locked = ImportantDate.objects.select_for_update().select_related("member").get(pk=important_date.pk)
    refuse_erased(locked.member)
    current = {name: getattr(locked, name) for name in DATE_FIELDS}
    current.update(changes)
    fields = _clean(**current)
    _require_consent(member=locked.member, consent=consent, actor=actor, source=source)
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save()
    return locked


@transaction.atomic
def delete_important_date(*, important_date: ImportantDate, actor=None) -> None:
    """Remove a date (a member may always remove their own; no consent needed to forget)."""
    ImportantDate.objects.filter(pk=important_date.pk).delete()
