"""Saving a row the shop configures in the admin and no service writes (coupon templates, plans,
promotions, the partner and its offer, KPI targets): validated with `full_clean()`, then saved,
as the admin's model forms do. State changes always go through the owning app's services."""

from __future__ import annotations

from django.db.models import Model


def configured(instance: Model) -> Model:
    instance.full_clean()
    instance.save()
    return instance
