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


@shared_task(name="loyalty_crm.refresh_home_figures")
def refresh_home_figures() -> int:
    """Every few minutes (beat): recompute the figures the admin home pages share before they
    expire, so no page request pays for them (loyalty_crm.home.refresh_shared_figures). One run at
    a time: a run that finds another still working skips. Returns how many figures were stored."""
    from loyalty_crm.home import FIGURES_SECONDS, refresh_shared_figures

    lock = "home:refreshing"
    if not cache.add(lock, "1", timeout=FIGURES_SECONDS):
        return 0
    try:
        return len(refresh_shared_figures())
    finally:
        cache.delete(lock)
