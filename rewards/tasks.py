"""Celery tasks of `rewards`; they call services and write nothing themselves."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from rewards.services.expiry import expire_due_lots
from rewards.services.tiers import reevaluate_tiers as reevaluate_tier_service


@shared_task(name="rewards.expire_points", acks_late=True)
def expire_points(batch_size: int = 50_000) -> dict[str, int]:
    """Nightly (beat task "Expire points (nightly)", 02:30 Asia/Shanghai): expire the due lots.

    Safe to run twice or to retry after a crash: each batch commits on its own and expired lots
    hold nothing, so a rerun picks up exactly what is left.
    """
    return asdict(expire_due_lots(batch_size=batch_size))


@shared_task(name="rewards.award_birthday_bonuses", acks_late=True)
def award_birthday_bonuses() -> dict:
    """Nightly (beat task "Award birthday bonuses (nightly)", 00:05 Asia/Shanghai): the birthday
    bonus for today's birthdays (29 February on 28 February in other years). Safe to rerun."""
    from rewards.services.bonuses import award_birthday_bonuses as award

    run = award()
    return {"day": run.day.isoformat(), "members": run.members, "awarded": run.awarded}


@shared_task(name="rewards.process_memberships", acks_late=True)
def process_memberships() -> dict[str, int]:
    """Daily (beat task "Memberships: renewal reminders and expiry (daily)", 01:15 Asia/Shanghai):
    expire ended paid memberships and send `membership_renewal_due` once per membership."""
    from rewards.services.memberships import process_memberships as process

    return asdict(process())


@shared_task(name="rewards.reevaluate_tiers", acks_late=True)
def reevaluate_tiers(batch_size: int = 10_000) -> dict[str, object]:
    """Nightly (beat task "Re-evaluate tiers (nightly)", 03:00 Asia/Shanghai): upgrade, start or clear
    grace periods, and downgrade members whose grace ended (rewards.services.tiers).

    Safe to run twice or to retry after a crash: each batch commits on its own, and a second run the
    same day finds nothing to change.
    """
    return asdict(reevaluate_tier_service(batch_size=batch_size))


@shared_task(name="rewards.expire_stored_value_bonuses", acks_late=True)
def expire_stored_value_bonuses() -> dict[str, object]:
    """Nightly (beat task "Expire stored-value bonuses (nightly)", 02:40 Asia/Shanghai): lapse the
    top-up bonuses past their end date (a rule's `bonus_expires_after_days`). Safe to run twice: an
    emptied bonus lot holds nothing to lapse."""
    from rewards.services.stored_value import expire_stored_value_bonuses as expire

    run = expire()
    return {"accounts": run.accounts, "amount": str(run.amount)}
