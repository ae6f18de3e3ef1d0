"""Saving segments and recounting them (the rules and the members they pick: `campaigns.segments`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import Segment
from campaigns.segments import count_members, validate_rules


@transaction.atomic
def save_segment(
    *, name: str, rules: dict, description: str = "", segment: Segment | None = None, actor=None
) -> Segment:
    """Create (or, with `segment`, change) a segment with validated rules, and count it."""
    clean = validate_rules(rules)
    if segment is None:
        segment = Segment()
    if segment.pk is None and actor is not None and actor.is_authenticated:
        segment.created_by = actor
    segment.name = name
    segment.description = description
    segment.rules = clean
    segment.size = count_members(clean)
    segment.size_computed_at = timezone.now()
    segment.full_clean(exclude=["created_by"])
    segment.save()
    return segment


def refresh_segment_sizes() -> int:
    """Recount every segment (after the nightly classification). Returns how many were counted."""
    counted = 0
    for segment in Segment.objects.only("pk", "rules"):
        try:
            size = count_members(segment.rules)
        except ValidationError:
            size = None  # a tier, store or tag it names was removed since; the admin shows the rule error
        Segment.objects.filter(pk=segment.pk).update(size=size, size_computed_at=timezone.now())
        counted += 1
    return counted
