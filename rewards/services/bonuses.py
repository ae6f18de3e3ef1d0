"""Activity bonuses: points for signing up, a birthday, a survey, a review, a referral, an event.

Each bonus (`ActivityBonus`, editable in the admin) has its points and a limit: once ever, once a
year, once a month, or once per reference. An award is a `bonus` ledger row (a lot, expiring like
earned points) and a `BonusAward` row unique on (member, bonus, period key): the member's row lock
serialises awards, and the unique constraint stops a double award even without it.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from rewards import lock_objects, rules, selectors
from rewards.errors import BonusNotAvailable
from rewards.models import ActivityBonus, BonusAward, LedgerEntry
from rewards.services import ledger

logger = logging.getLogger("rewards.bonuses")


@dataclass(frozen=True)
class BonusResult:
    awarded: bool  # False: the bonus is off, missing, or already given in this period
    points: int
    award: BonusAward | None
    points_balance: int | None


NOT_AWARDED = BonusResult(awarded=False, points=0, award=None, points_balance=None)


@transaction.atomic
def award_bonus(
    *,
    member: Member,
    kind: str,
    reference: str = "",
    actor=None,
    at: datetime.datetime | None = None,
    strict: bool = False,
) -> BonusResult:
    """Give the member the activity bonus of `kind` unless already given in this period.

    The period follows the bonus's limit and the local date of `at` (now by default): "once" ever,
    the calendar year, the calendar month, or `reference` (required for per-reference bonuses, e.g.
    the referred member's number). Returns whether it was awarded. An inactive or unknown bonus,
    an erased or frozen member, or a bonus already given answer `awarded=False`; with
    `strict=True` (a manager awarding by hand) they raise BonusNotAvailable with the reason.
    """
    reference = (reference or "").strip()[:64]
    on = timezone.localdate(at) if at else timezone.localdate()

    def refuse(message: str) -> BonusResult:
        if strict:
            raise BonusNotAvailable(message)
        return NOT_AWARDED

    bonus = ActivityBonus.objects.filter(kind=kind).first()
    if bonus is None or not bonus.is_active:
        return refuse(_("This activity bonus is switched off."))
    if bonus.limit == ActivityBonus.Limit.PER_REFERENCE and not reference:
        return refuse(_("This bonus is given once per reference: enter the reference."))
    period_key = rules.bonus_period_key(bonus.limit, on, reference)
    member = lock_objects.member_for_update(member.pk)
    if member.status != Member.Status.ACTIVE:
        return refuse(_("Member %(member_no)s is not active.") % {"member_no": member.member_no})
    if BonusAward.objects.filter(member=member, bonus=bonus, period_key=period_key).exists():
        return refuse(_("The member already received this bonus for this period."))
    account = ledger.lock_or_open_account(member, selectors.tiers())
    params = {"bonus": bonus.kind, "reference": reference} if reference else {"bonus": bonus.kind}
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves this transaction usable
            entry = ledger.credit(
                account,
                kind=LedgerEntry.Kind.BONUS,
                points=bonus.points,
                earned_on=on,
                reason_code=LedgerEntry.Reason.BONUS,
                reason_params=params,
                actor=actor,
            )
            award = BonusAward.objects.create(
                member=member,
                bonus=bonus,
                period_key=period_key,
                reference=reference,
                points=bonus.points,
                entry=entry,
                actor=ledger.real_actor(actor),
            )
    except IntegrityError:
        account.refresh_from_db()
        return refuse(_("The member already received this bonus for this period."))
    ledger.save_account(account)
    return BonusResult(awarded=True, points=bonus.points, award=award, points_balance=account.balance)


@dataclass(frozen=True)
class BirthdayRun:
    day: datetime.date
    members: int  # members whose birthday it is
    awarded: int  # bonuses given by this run (the others had theirs already this year)


def award_birthday_bonuses(*, on: datetime.date | None = None) -> BirthdayRun:
    """Give the birthday bonus to every active member whose birthday is `on` (today, Asia/Shanghai).

    Birthdays on 29 February are celebrated on 28 February in other years. Each award commits
    on its own; running twice in a day (or retrying) gives nothing more — the yearly limit holds.
    """
    on = on or timezone.localdate()
    bonus = ActivityBonus.objects.filter(kind=ActivityBonus.Kind.BIRTHDAY, is_active=True).first()
    if bonus is None:
        return BirthdayRun(day=on, members=0, awarded=0)
    at = timezone.make_aware(datetime.datetime.combine(on, datetime.time(12)))
    found = awarded = 0
    for month, day in rules.birthdays_on(on):
        # About 1/365 of the members: their ids fit in memory (2,700 for a million members).
        ids = list(
            Member.objects.filter(status=Member.Status.ACTIVE, birth_month=month, birth_day=day)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for member_id in ids:
            found += 1
            result = award_bonus(member=Member(pk=member_id), kind=ActivityBonus.Kind.BIRTHDAY, at=at)
            awarded += int(result.awarded)
    logger.info("Birthday bonuses for %s: %d members, %d awarded", on.isoformat(), found, awarded)
    return BirthdayRun(day=on, members=found, awarded=awarded)


@transaction.atomic
def credit_campaign_points(
    *, member: Member, points: int, reason_code: str, reason_params: dict, actor=None
) -> LedgerEntry | None:
    """Bonus points a campaign's offer gives (a `bonus` lot, expiring like earned points), with
    the reason as a code and its parameters (`rewards.ledger_reasons`).

    The caller (campaigns) makes it once per message; this only credits, under the member's row
    lock. None when the member is not active (frozen or erased members get nothing).
    """
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ValueError("points must be a positive whole number")
    member = lock_objects.member_for_update(member.pk)
    if member.status != Member.Status.ACTIVE:
        return None
    account = ledger.lock_or_open_account(member, selectors.tiers())
    entry = ledger.credit(
        account,
        kind=LedgerEntry.Kind.BONUS,
        points=points,
        earned_on=timezone.localdate(),
        reason_code=reason_code,
        reason_params=reason_params,
        actor=actor,
    )
    ledger.save_account(account)
    return entry
