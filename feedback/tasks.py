"""Celery tasks of `feedback`; they call services and write nothing themselves."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from feedback.services import flag_sla_breaches as flag_sla_breaches_service


@shared_task(name="feedback.flag_sla_breaches", acks_late=True)
def flag_sla_breaches(batch_size: int = 500) -> dict[str, int]:
    """Every minute (beat task "Flag SLA breaches (every minute)"): flag newly missed targets and
    notify the assignee and team lead once per breach. Safe to run twice or side by side."""
    return asdict(flag_sla_breaches_service(batch_size=batch_size))


@shared_task(name="feedback.send_pending_replies", acks_late=True)
def send_pending_replies() -> dict[str, int]:
    """Every minute (beat task "Send pending ticket replies (every minute)"): send replies whose
    after-commit send never started, report in doubt those whose sender stopped mid-send."""
    from feedback.services import send_stalled_replies

    return send_stalled_replies()
