"""The cached policies and earning configuration are dropped by `rewards.receivers` (connected in
`RewardsConfig.ready()`), not by hooks in the models module — and by every save and delete,
a queryset's delete included."""

import pytest
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save

from members.models import Store
from rewards.models import (
    EARNING_CONFIG_CACHE_KEY,
    EXPIRY_POLICY_CACHE_KEY,
    TIER_POLICY_CACHE_KEY,
    EarningSettings,
    EarnRule,
    ExpiryPolicy,
    MembershipPlan,
    Promotion,
    Tier,
    TierPolicy,
)

pytestmark = pytest.mark.django_db
CACHED = [
    (ExpiryPolicy, "forget_expiry_policy"),
    (TierPolicy, "forget_tier_policy"),
    (Tier, "forget_tiers"),
    (EarnRule, "forget_earning_config"),
    (Promotion, "forget_earning_config"),
    (EarningSettings, "forget_earning_config"),
    (MembershipPlan, "forget_earning_config"),
]


def receivers_of(signal, sender) -> set[str]:
    sync, asynchronous = signal._live_receivers(sender)
    return {f"{receiver.__module__}.{receiver.__qualname__}" for receiver in [*sync, *asynchronous]}


@pytest.mark.parametrize(("model", "handler"), CACHED)
def test_saves_and_deletes_are_heard_in_rewards_receivers_not_in_the_models_module(model, handler):
    for signal in (post_save, post_delete):
        heard = receivers_of(signal, model)
        assert f"rewards.receivers.{handler}" in heard
        assert not [name for name in heard if name.startswith("rewards.models")]
    assert "rewards.receivers.forget_earning_config" in receivers_of(m2m_changed, Promotion.stores.through)


def test_saving_a_policy_drops_the_cached_value_now_and_at_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cache.set(EXPIRY_POLICY_CACHE_KEY, ("stale", None))
        ExpiryPolicy.objects.get(is_active=True).save()
        assert cache.get(EXPIRY_POLICY_CACHE_KEY) is None
        cache.set(EXPIRY_POLICY_CACHE_KEY, ("cached between", None))  # a reader before the commit
    for callback in callbacks:
        callback()
    assert cache.get(EXPIRY_POLICY_CACHE_KEY) is None


@pytest.mark.parametrize(
    ("model", "key"), [(ExpiryPolicy, EXPIRY_POLICY_CACHE_KEY), (TierPolicy, TIER_POLICY_CACHE_KEY)]
)
def test_a_queryset_delete_of_a_policy_drops_the_cached_value(model, key):
    assert model.objects.exists()
    cache.set(key, "stale")
    model.objects.all().delete()
    assert cache.get(key) is None


def test_choosing_a_promotions_stores_drops_the_earning_configuration():
    promotion = Promotion.objects.create(
        name="Double", multiplier=2, starts_at="2026-01-01T00:00+08:00", ends_at="2026-02-01T00:00+08:00"
    )
    cache.set(EARNING_CONFIG_CACHE_KEY, "stale")
    promotion.stores.add(Store.objects.create(code="x-1", name="X"))
    assert cache.get(EARNING_CONFIG_CACHE_KEY) is None
