"""Segments, classification, campaigns and the contact policy.

`campaigns` reads `members` and `rewards` and changes points only through `rewards.services`
(DESIGN.md: members ← rewards ← campaigns).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import TimeStamped


class Segment(TimeStamped):
    """A saved set of rules (ANDed; an absent key means any) that picks members.

    The rule keys are API.md's: classification, tiers, stores, tags, min_spend_12m,
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

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
