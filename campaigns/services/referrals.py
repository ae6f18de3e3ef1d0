"""Referral (推荐有礼): when a referred member's first purchase is posted, both members get the
programme's reward — once.

Once-only rests on two things: the members' row locks (taken in primary-key order, so a
referrer and a referred member cannot deadlock) serialise concurrent postings, and the
ReferralReward row, unique per referred member, makes a second reward impossible even without
them. The reward is given after the purchase's transaction commits (campaigns.referral_receivers), so a
failing reward never undoes a posting; a reward missed that way is given on the member's next
purchase, still counted on the first one.

A refund of the first purchase does not take the reward back, and a purchase posted again
(refunded, then re-posted under a new reference) gives nothing more: the reward is for bringing a
customer who bought, and the ReferralReward row stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns import lock_objects, rules
from campaigns.models import ReferralProgramme, ReferralReward
from campaigns.selectors.referrals import first_purchase
from loyalty_crm.errors import DomainError
from members.models import Member, Purchase
from rewards.ledger_reasons import Reason
from rewards.models import ActivityBonus, Coupon
from rewards.services import award_bonus
from rewards.services.coupons import issue_coupon
from rewards.services.grants import grant_points

logger = logging.getLogger("campaigns.referrals")


@dataclass(frozen=True)
class ReferralOutcome:
    reward: ReferralReward | None  # None: not a referred member, or no purchase yet
    created: bool


NOTHING = ReferralOutcome(reward=None, created=False)


@transaction.atomic
def reward_referral(*, member: Member, actor=None) -> ReferralOutcome:
    """Give the referral rewards for `member`'s first purchase unless given (or refused) before.

    Nothing happens for a member nobody referred, a member without a purchase, or a member who
    already has a ReferralReward row. While the programme is off (or the referred member is not
    active) the first purchase is recorded as `not_rewarded`, so switching the programme on later
    does not reward old purchases. A part that cannot be given (an inactive coupon template, a
    referrer no longer active) is skipped and named in the row's note; the rest is given.
    """
    referrer_id = Member.objects.filter(pk=member.pk).values_list("referred_by_id", flat=True).first()
    if referrer_id is None or referrer_id == member.pk:
        return NOTHING
    existing = ReferralReward.objects.filter(referred_id=member.pk).first()
    if existing is not None:
        return ReferralOutcome(reward=existing, created=False)
    locked = {m.pk: m for m in lock_objects.members_for_update([member.pk, referrer_id])}
    referred, referrer = locked.get(member.pk), locked.get(referrer_id)
    if referred is None or referrer is None or referred.referred_by_id != referrer_id:
        return NOTHING
    existing = ReferralReward.objects.filter(referred=referred).first()  # a racer may have won the lock first
    if existing is not None:
        return ReferralOutcome(reward=existing, created=False)
    purchase = first_purchase(referred.pk)
    if purchase is None:
        return NOTHING
    programme = ReferralProgramme.load()
    reward = ReferralReward(referred=referred, referrer=referrer, purchase=purchase)
    notes: list[str] = []
    if not programme.is_active:
        reward.status = ReferralReward.Status.NOT_REWARDED
        notes.append(_("The referral programme was off."))
    elif referred.status != Member.Status.ACTIVE:
        reward.status = ReferralReward.Status.NOT_REWARDED
        notes.append(_("The referred member is not active."))
    else:
        reward.status = ReferralReward.Status.REWARDED
    try:
        with transaction.atomic():  # a savepoint: the unique constraint is the last word on "once"
            reward.save(force_insert=True)
    except IntegrityError:
        return ReferralOutcome(reward=ReferralReward.objects.filter(referred=referred).first(), created=False)
    if reward.status == ReferralReward.Status.REWARDED:
        _give_referred(reward, programme, notes, actor)
        if referrer.status == Member.Status.ACTIVE:
            _give_referrer(reward, programme, purchase, notes, actor)
        else:
            notes.append(_("The referrer is not active: nothing for them."))
    reward.note = " ".join(notes)[:300]
    reward.save(update_fields=["referrer_points", "referred_points", "referrer_coupon", "referred_coupon", "note"])
    logger.info("Referral reward %s: %s", reward.pk, reward.status)
    return ReferralOutcome(reward=reward, created=True)


def _coupon(template, member: Member, notes: list[str], actor) -> Coupon | None:
    if template is None:
        return None
    try:
        with transaction.atomic():
            return issue_coupon(template=template, member=member, source=Coupon.Source.REFERRAL, actor=actor)
    except DomainError as error:
        notes.append(_("No coupon for %(member_no)s: %(reason)s") % {"member_no": member.member_no, "reason": error})
        return None


def _points(member: Member, points: int, reason_code: str, reason_params: dict, notes: list[str], actor) -> int:
    if points <= 0:
        return 0
    try:
        with transaction.atomic():
            return grant_points(
                member=member, points=points, reason_code=reason_code, reason_params=reason_params, actor=actor
            ).points
    except DomainError as error:
        notes.append(_("No points for %(member_no)s: %(reason)s") % {"member_no": member.member_no, "reason": error})
        return 0


def _give_referred(reward: ReferralReward, programme: ReferralProgramme, notes: list[str], actor) -> None:
    referred = reward.referred
    reward.referred_points = _points(
        referred,
        programme.referred_points,
        Reason.REFERRAL_WELCOME,
        {"member_no": reward.referrer.member_no},
        notes,
        actor,
    )
    reward.referred_coupon = _coupon(programme.referred_coupon_template, referred, notes, actor)


def _give_referrer(reward, programme: ReferralProgramme, purchase: Purchase, notes: list[str], actor) -> None:
    referrer = reward.referrer
    if programme.referrer_points_mode == ReferralProgramme.ReferrerPoints.ACTIVITY_BONUS:
        result = award_bonus(
            member=referrer, kind=ActivityBonus.Kind.REFERRAL, reference=reward.referred.member_no, actor=actor
        )
        reward.referrer_points = result.points
        if not result.awarded:
            notes.append(_("The “Referral” activity bonus is off or was given before."))
    else:
        reward.referrer_points = _points(
            referrer,
            rules.referrer_points_for(programme, purchase),
            Reason.REFERRAL_FIRST_PURCHASE,
            {"member_no": reward.referred.member_no},
            notes,
            actor,
        )
    reward.referrer_coupon = _coupon(programme.referrer_coupon_template, referrer, notes, actor)
