"""Segments: saved member filters that campaigns target."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import TimeStamped


class Segment(TimeStamped):
    """A saved set of rules (ANDed; an absent key means any) that picks members.

    The rule keys are docs/api.md's: classification, tiers, stores, tags, min_spend_12m,
    last_purchase_after, last_purchase_before, birthday_month, consented_channel.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # The last count of members (by `campaigns.services.segments.refresh_segment_sizes`, on save and nightly),
    # so lists show sizes without evaluating every segment's rules.
    size = models.PositiveIntegerField(_("size"), null=True, blank=True, editable=False)
    size_computed_at = models.DateTimeField(_("counted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        permissions = [("export_segment", _("Can export a segment's members"))]

    def __str__(self) -> str:
        return self.name


# --- campaigns and dispatch -----------------------------------------------------------------
