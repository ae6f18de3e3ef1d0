import pytest
from django.core.cache import cache

from rewards.models import EARNING_CONFIG_CACHE_KEY


@pytest.fixture(autouse=True)
def _forget_cached_earning_config():
    """Postings cache the earning rules; a test's promotions and limits must not outlive its
    rolled-back rows (rollbacks send no signals)."""
    cache.delete(EARNING_CONFIG_CACHE_KEY)
    yield
    cache.delete(EARNING_CONFIG_CACHE_KEY)
