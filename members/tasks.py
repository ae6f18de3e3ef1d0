"""Celery tasks of `members`: thin wrappers around its services."""

from celery import shared_task


@shared_task(name="members.prune_centre_sign_in")
def prune_centre_sign_in() -> int:
    """Nightly: drop sign-in codes older than a day (they no longer count towards a limit) and
    member-centre sessions ended or expired more than 30 days ago."""
    import datetime

    from django.utils import timezone

    from members.models import MemberSession
    from members.services import prune_challenges

    now = timezone.now()
    pruned = prune_challenges(now=now)
    old = now - datetime.timedelta(days=30)
    sessions, _rows = MemberSession.objects.filter(expires_at__lt=old).delete()
    ended, _rows = MemberSession.objects.filter(ended_at__lt=old).delete()
    return pruned + sessions + ended


@shared_task(name="members.refresh_recommendations", acks_late=True)
def refresh_recommendations() -> int:
    """Nightly: recompute every member's product recommendations (one set-based statement)."""
    from members.services import refresh_recommendations as refresh

    return refresh().rows
