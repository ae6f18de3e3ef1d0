"""Project-level Celery tasks."""

from celery import shared_task
from django.core.cache import cache


@shared_task(name="loyalty_crm.ping")
def ping(token: str) -> str:
    """Health check: proves a worker consumes from the broker (it writes `token` to the cache)."""
    cache.set(f"celery-ping:{token}", "pong", timeout=60)
    return "pong"


@shared_task(name="loyalty_crm.prune_signin_logs")
def prune_signin_logs() -> int:
    """Nightly: drop sign-in log rows older than SIGNIN_LOG_RETENTION_DAYS (personal data kept no
    longer than needed)."""
    from loyalty_crm.login_lockout import prune_signin_logs as prune

    return prune()
