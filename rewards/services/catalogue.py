"""Creating and changing rewards. Stock is money-like: a change locks the reward's row, so a
manager's edit and a redemption at the counter never overwrite each other."""

from __future__ import annotations

from django.db import transaction

from rewards import lock_objects
from rewards.models import Reward

EDITABLE = (
    "name",
    "kind",
    "description",
    "points_cost",
    "stock",
    "is_active",
    "valid_from",
    "valid_until",
    "min_tier",
    "plan_members_only",
    "coupon_template",
    "per_member_limit",
)


@transaction.atomic
def create_reward(*, actor=None, **fields) -> Reward:
    """A new catalogue entry, checked by the model's validation (Reward.clean and constraints)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"Not a reward field: {sorted(unknown)}")
    reward = Reward(**fields)
    reward.full_clean()
    reward.save()
    return reward


@transaction.atomic
def update_reward(*, reward: Reward, changes: dict, actor=None) -> Reward:
    """Apply only the given fields to the current, locked row (a concurrent redemption's stock
    change is never overwritten by fields the caller did not touch)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"Not a reward field: {sorted(unknown)}")
    locked = lock_objects.reward_for_update(reward.pk)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean()
    if changes:
        locked.save(update_fields=[*changes, "updated_at"])
    return locked
