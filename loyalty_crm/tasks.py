"""Project-level Celery tasks."""

from celery import shared_task
from django.core.cache import cache


@shared_task(name="loyalty_crm.ping")
def ping(token: str) -> str:
    """Health check: proves a worker consumes from the broker (it writes `token` to the cache)."""
    cache.set(f"celery-ping:{token}", "pong", timeout=60)
    return "pong"
