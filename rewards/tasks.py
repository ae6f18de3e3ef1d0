"""Celery tasks of `rewards`; they call services and write nothing themselves."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from rewards.services.expiry import expire_due_lots


@shared_task(name="rewards.expire_points", acks_late=True)
def expire_points(batch_size: int = 50_000) -> dict[str, int]:
    """Nightly (beat task "Expire points (nightly)", 02:30 Asia/Shanghai): expire the due lots.

    Safe to run twice or to retry after a crash: each batch commits on its own and expired lots
    hold nothing, so a rerun picks up exactly what is left.
    """
    return asdict(expire_due_lots(batch_size=batch_size))
