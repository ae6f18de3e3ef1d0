"""Which members a segment's rules pick.

A minimal version for dispatch: an empty rule set means every member who is not erased, and
`stores` (store codes) and `tags` (tag names) narrow it. The segments work stream replaces this
module with the full rule set of API.md; dispatch imports only `segment_members` and
`validate_rules`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from members.models import Member

SUPPORTED_KEYS = {"stores", "tags"}


def validate_rules(rules) -> dict:
    """Return the rules, or raise ValidationError naming what is wrong."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise ValidationError({"rules": [_("Rules must be an object.")]})
    unknown = sorted(set(rules) - SUPPORTED_KEYS)
    if unknown:
        raise ValidationError({"rules": [_("Unknown rule “%(key)s”.") % {"key": key} for key in unknown]})
    for key in SUPPORTED_KEYS & set(rules):
        value = rules[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError({"rules": [_("“%(key)s” must be a list of texts.") % {"key": key}]})
    return rules


def segment_members(rules: dict) -> QuerySet[Member]:
    """Members (never erased ones) matching every rule; EXISTS-style filters, no duplicates."""
    rules = validate_rules(rules)
    members = Member.objects.not_erased()
    if rules.get("stores"):
        members = members.filter(home_store__code__in=rules["stores"])
    if rules.get("tags"):
        members = members.filter(
            pk__in=Member.tags.through.objects.filter(tag__name__in=rules["tags"]).values("member_id")
        )
    return members
