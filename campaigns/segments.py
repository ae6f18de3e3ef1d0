"""Segments: saved rule sets that pick members (docs/api.md "Segments, campaigns and contact policy").

Rules are a dict; every key is optional (absent = any) and the keys are ANDed. Within a key that
takes a list, any listed value matches:

- `classification`: [codes] — the member's class from the last classification run (a member not
  yet classified counts as `no_purchases`).
- `tiers`: [tier codes] — the current tier (from `rewards`).
- `stores`: [store codes] — the home store.
- `tags`: [tag names] — has at least one of the tags.
- `min_spend_12m`: decimal — spend in the window of the last classification run, at least this.
- `last_purchase_after` / `last_purchase_before`: "YYYY-MM-DD" — the last (not fully refunded)
  purchase was on or after / on or before that day, from the purchases as they are now.
- `birthday_month`: 1–12, or a list of months.
- `consented_channel`: "email" | "sms" | "wechat" — marketing consent on that channel granted now.

Only active members are in a segment (never frozen or erased ones). `validate_rules` returns the
clean rules or raises a ValidationError naming each bad key; `segment_members` turns clean rules
into a queryset (the dispatch of campaigns resolves audiences with it). This module only reads;
segments are saved and recounted by `campaigns.services.segments`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Classification, MemberScore, Segment
from members import loyalty
from members.models import Member, Purchase, Store, Tag
from members.selectors import MARKETING_CHANNELS, members_with_marketing_consent
from rewards.models import Tier
from rewards.selectors import members_in_tiers

RULE_KEYS = (
    "classification",
    "tiers",
    "stores",
    "tags",
    "min_spend_12m",
    "last_purchase_after",
    "last_purchase_before",
    "birthday_month",
    "consented_channel",
)
CHANNELS = tuple(MARKETING_CHANNELS)


def _string_list(value, key: str, errors: dict) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        errors[key] = _("Give a list of values.")
        return None
    return sorted({v.strip() for v in value})


def _known(values: list[str], known: set[str], key: str, errors: dict, what: str) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        errors[key] = _("Unknown %(what)s: %(values)s.") % {"what": what, "values": ", ".join(unknown)}


def _date(value, key: str, errors: dict) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        errors[key] = _("Give a date as YYYY-MM-DD.")
        return None


def validate_rules(rules) -> dict:
    """The rules in canonical form (sorted lists, ISO dates, decimal strings; empty keys dropped),
    or a ValidationError whose dict names every bad key."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise ValidationError({"rules": _("Rules must be an object of rule keys.")})
    errors: dict[str, str] = {}
    clean: dict = {}
    for key in rules:
        if key not in RULE_KEYS:
            errors[key] = _("Unknown rule. Known rules: %(keys)s.") % {"keys": ", ".join(RULE_KEYS)}
    present = {key: value for key, value in rules.items() if key in RULE_KEYS and value not in (None, "", [])}

    if "classification" in present:
        values = _string_list(present["classification"], "classification", errors)
        if values is not None:
            _known(values, set(Classification.values), "classification", errors, _("classification"))
            clean["classification"] = values
    if "tiers" in present:
        values = _string_list(present["tiers"], "tiers", errors)
        if values is not None:
            known = set(Tier.objects.filter(code__in=values).values_list("code", flat=True))
            _known(values, known, "tiers", errors, _("tier"))
            clean["tiers"] = values
    if "stores" in present:
        values = _string_list(present["stores"], "stores", errors)
        if values is not None:
            known = set(Store.objects.filter(code__in=values).values_list("code", flat=True))
            _known(values, known, "stores", errors, _("store"))
            clean["stores"] = values
    if "tags" in present:
        values = _string_list(present["tags"], "tags", errors)
        if values is not None:
            known = set(Tag.objects.filter(name__in=values).values_list("name", flat=True))
            _known(values, known, "tags", errors, _("tag"))
            clean["tags"] = values
    if "min_spend_12m" in present:
        value = present["min_spend_12m"]
        try:
            amount = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            errors["min_spend_12m"] = _("Give an amount of 0 or more.")
        else:
            clean["min_spend_12m"] = str(amount.quantize(Decimal("0.01")))
    dates = {}
    for key in ("last_purchase_after", "last_purchase_before"):
        if key in present:
            day = _date(present[key], key, errors)
            if day is not None:
                dates[key] = day
                clean[key] = day.isoformat()
    if len(dates) == 2 and dates["last_purchase_after"] > dates["last_purchase_before"]:
        errors["last_purchase_before"] = _("Must be on or after the date in last_purchase_after.")
    if "birthday_month" in present:
        value = present["birthday_month"]
        months = value if isinstance(value, list | tuple) else [value]
        try:
            numbers = sorted({int(m) for m in months if not isinstance(m, bool)})
        except (TypeError, ValueError):
            numbers = []
        if not numbers or len(numbers) != len(months) or any(not 1 <= m <= 12 for m in numbers):
            errors["birthday_month"] = _("Give a month from 1 to 12, or a list of months.")
        else:
            clean["birthday_month"] = numbers[0] if len(numbers) == 1 else numbers
    if "consented_channel" in present:
        value = present["consented_channel"]
        if value not in CHANNELS:
            errors["consented_channel"] = _("Unknown channel. Known channels: %(channels)s.") % {
                "channels": ", ".join(CHANNELS)
            }
        else:
            clean["consented_channel"] = value
    if errors:
        raise ValidationError(errors)
    return clean


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _counted_purchases():
    """A member's purchases that count: not fully refunded."""
    return Purchase.objects.filter(member_id=OuterRef("pk"), total__gt=F("refunded_total"))


def segment_members(rules: dict) -> QuerySet[Member]:
    """The active members the rules pick, as a lazy queryset (no query until it is used).

    The rules are validated first (ValidationError naming the bad key). Every condition is a
    column filter or an EXISTS subquery, never a to-many join, so each member appears once.
    """
    return _build(validate_rules(rules))


def _build(rules: dict) -> QuerySet[Member]:
    """The queryset of already clean rules, built without a query."""
    members = Member.objects.active()
    if "classification" in rules:
        codes = rules["classification"]
        condition = Q(campaign_score__classification__in=codes)
        if Classification.NO_PURCHASES in codes:
            condition |= ~Exists(MemberScore.objects.filter(member_id=OuterRef("pk")))
        members = members.filter(condition)
    if "tiers" in rules:
        members = members_in_tiers(members, rules["tiers"])
    if "stores" in rules:
        members = members.filter(home_store__code__in=rules["stores"])
    if "tags" in rules:
        tagged = Member.tags.through.objects.filter(member_id=OuterRef("pk"), tag__name__in=rules["tags"])
        members = members.filter(Exists(tagged))
    if "min_spend_12m" in rules:
        members = members.filter(campaign_score__spend_12m__gte=Decimal(rules["min_spend_12m"]))
    if "last_purchase_after" in rules:
        start = _start_of(datetime.date.fromisoformat(rules["last_purchase_after"]))
        members = members.filter(Exists(_counted_purchases().filter(ordered_at__gte=start)))
    if "last_purchase_before" in rules:
        day = datetime.date.fromisoformat(rules["last_purchase_before"])
        later = _start_of(day + datetime.timedelta(days=1))
        members = members.filter(
            Exists(_counted_purchases()) & ~Exists(_counted_purchases().filter(ordered_at__gte=later))
        )
    if "birthday_month" in rules:
        months = rules["birthday_month"]
        members = members.filter(birth_month__in=months if isinstance(months, list) else [months])
    if "consented_channel" in rules:
        members = members_with_marketing_consent(members, rules["consented_channel"])
    return members


def count_members(rules: dict) -> int:
    return segment_members(rules).count()


EXPORT_COLUMNS = ("member_no", "name", "classification", "tier")
EXPORT_CHUNK = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + value if value and value.startswith(FORMULA_START) else value


def segment_export_rows(segment: Segment) -> Iterator[tuple[str, str, str, str]]:
    """(member_no, name, classification, tier code) of each member, by member number; no contact
    data. Two queries per 2,000 members, whatever the segment's size."""
    members = segment_members(segment.rules).order_by("member_no")
    after = ""
    while True:
        chunk = list(
            members.filter(member_no__gt=after)
            .select_related("campaign_score")
            .only("pk", "member_no", "name", "campaign_score__classification")[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        snapshots = loyalty.snapshots(chunk)
        for member in chunk:
            score = getattr(member, "campaign_score", None)
            classification = score.classification if score is not None else Classification.NO_PURCHASES
            tier = snapshots[member.pk].tier.code if member.pk in snapshots else ""
            yield member.member_no, _cell(member.name), classification, tier
        after = chunk[-1].member_no
