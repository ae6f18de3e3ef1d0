"""Redeeming rewards for points, and cancelling a redemption. Admin, API and staff pages call these."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from members.services import MemberErased
from rewards import lock_objects, selectors
from rewards.errors import (
    AlreadyCancelled,
    IdempotencyConflict,
    OutOfStock,
    RewardLimitReached,
    RewardUnavailable,
)
from rewards.models import Coupon, LedgerEntry, Redemption, Reward, RewardKind
from rewards.services import coupons as coupon_services
from rewards.services import ledger

MAX_QUANTITY = 100


@dataclass(frozen=True)
class RedemptionResult:
    redemption: Redemption
    coupons: list[Coupon]
    created: bool  # False when this answers a retry from the stored first answer

    @property
    def points_spent(self) -> int:
        return self.redemption.points_spent

    @property
    def points_balance(self) -> int:
        return self.redemption.points_balance

    @property
    def coupon(self) -> Coupon | None:
        return self.coupons[0] if self.coupons else None


def redemption_fingerprint(*, member: Member, reward: Reward, quantity: int) -> str:
    body = {"member": member.member_no, "reward": reward.pk, "quantity": quantity}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replay(redemption: Redemption, fingerprint: str) -> RedemptionResult:
    if redemption.fingerprint != fingerprint:
        raise IdempotencyConflict(
            _("The idempotency key “%(key)s” was already used for a different redemption.")
            % {"key": redemption.idempotency_key}
        )
    return RedemptionResult(redemption=redemption, coupons=list(redemption.coupons.order_by("pk")), created=False)


def _existing(idempotency_key: str) -> Redemption | None:
    return Redemption.objects.select_related("member", "reward").filter(idempotency_key=idempotency_key).first()


def unavailable_reason(reward: Reward, *, tier, now: datetime.datetime, member: Member | None = None) -> str:
    """Why `reward` cannot be redeemed now by a member of `tier` ("" when it can), for staff.

    A paid-members-only reward also needs `member` to hold, today, a paid membership whose plan
    offers member-only rewards."""
    if not reward.is_active:
        return _("The reward “%(name)s” is not offered at the moment.") % {"name": reward.name}
    if reward.valid_from and reward.valid_from > now:
        return _("The reward “%(name)s” can be redeemed from %(date)s.") % {
            "name": reward.name,
            "date": timezone.localtime(reward.valid_from).strftime("%Y-%m-%d %H:%M"),
        }
    if reward.valid_until and reward.valid_until <= now:
        return _("The reward “%(name)s” could be redeemed until %(date)s.") % {
            "name": reward.name,
            "date": timezone.localtime(reward.valid_until).strftime("%Y-%m-%d %H:%M"),
        }
    if reward.min_tier_id and reward.min_tier.rank > tier.rank:
        return _("The reward “%(name)s” is for %(tier)s members and above; this member is %(current)s.") % {
            "name": reward.name,
            "tier": reward.min_tier.display_name,
            "current": tier.display_name,
        }
    if reward.plan_members_only and not (member is not None and selectors.has_member_only_plan(member, now)):
        return _("The reward “%(name)s” is for paid members only; this member has no such plan in force.") % {
            "name": reward.name
        }
    return ""


def redeem_reward(
    *, member: Member, reward: Reward, quantity: int = 1, idempotency_key: str, actor=None
) -> RedemptionResult:
    """Spend `quantity` × the reward's points on it: all or nothing.

    Locks the member, their points account and the reward (in `rewards.lock_objects` order), then
    refuses — changing nothing — a reward that is inactive, outside its dates or above the
    member's tier (RewardUnavailable), over its per-member limit (RewardLimitReached), short of
    stock (OutOfStock) or a balance short of the cost (InsufficientPoints). Otherwise debits the
    points oldest lots first (a `spend` ledger row), takes the stock and, for a coupon reward,
    issues one coupon per unit.

    Idempotent on `idempotency_key`: the same request again answers the first result (nothing is
    written); a different request with that key raises IdempotencyConflict. A refused request
    stores nothing, so its key may be retried.
    """
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key:
        raise ValidationError({"idempotency_key": [_("An idempotency key is required.")]})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError({"quantity": [_("Enter a quantity from 1 to %(max)d.") % {"max": MAX_QUANTITY}]})
    fingerprint = redemption_fingerprint(member=member, reward=reward, quantity=quantity)
    try:
        return _redeem(
            member=member,
            reward=reward,
            quantity=quantity,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            actor=actor,
        )
    except IntegrityError:
        # The same key committed meanwhile for ANOTHER member (whose lock this one did not wait
        # for): everything above rolled back; answer from the stored redemption.
        existing = _existing(idempotency_key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)


@transaction.atomic
def _redeem(*, member, reward, quantity, idempotency_key, fingerprint, actor) -> RedemptionResult:
    existing = _existing(idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)

    member = lock_objects.member_for_update(member.pk)
    # A request with the same key may have committed while this one waited for the member lock.
    existing = _existing(idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    account = ledger.lock_or_open_account(member, selectors.tiers())
    reward = lock_objects.reward_for_update(reward.pk)

    reason = unavailable_reason(reward, tier=account.tier, now=timezone.now(), member=member)
    if reason:
        raise RewardUnavailable(reason)
    if reward.per_member_limit:
        had = (
            Redemption.objects.filter(member=member, reward=reward, status=Redemption.Status.COMPLETED).aggregate(
                n=Sum("quantity")
            )["n"]
            or 0
        )
        if had + quantity > reward.per_member_limit:
            raise RewardLimitReached(
                _("Member %(member_no)s may redeem “%(name)s” %(limit)d times in all and has %(had)d.")
                % {"member_no": member.member_no, "name": reward.name, "limit": reward.per_member_limit, "had": had}
            )
    if reward.stock is not None and reward.stock < quantity:
        raise OutOfStock(
            _("Only %(stock)d of “%(name)s” left; %(quantity)d asked for.")
            % {"stock": reward.stock, "name": reward.name, "quantity": quantity}
        )
    points = reward.points_cost * quantity
    taken: list = []
    entry = ledger.debit(  # raises InsufficientPoints before writing anything
        account,
        kind=LedgerEntry.Kind.SPEND,
        points=points,
        reason_code=LedgerEntry.Reason.REDEMPTION,
        reason_params={"quantity": quantity, "reward": reward.name},
        actor=actor,
        taken=taken,
    )
    if reward.stock is not None:
        reward.stock -= quantity
        reward.save(update_fields=["stock", "updated_at"])
    ledger.save_account(account)
    by_date: dict[datetime.date, int] = defaultdict(int)
    for expires_on, taken_points in taken:
        by_date[expires_on] += taken_points
    redemption = Redemption.objects.create(
        member=member,
        reward=reward,
        quantity=quantity,
        points_spent=points,
        points_balance=account.balance,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        spend_entry=entry,
        lots_taken=[[day.isoformat(), n] for day, n in sorted(by_date.items())],
        actor=ledger.real_actor(actor),
    )
    issued = []
    if reward.kind == RewardKind.COUPON:
        for _unit in range(quantity):
            issued.append(
                coupon_services.issue_coupon(
                    template=reward.coupon_template,
                    member=member,
                    source=Coupon.Source.REDEMPTION,
                    actor=actor,
                    redemption=redemption,
                )
            )
    return RedemptionResult(redemption=redemption, coupons=issued, created=True)


@dataclass(frozen=True)
class CancellationResult:
    redemption: Redemption
    points_returned: int
    points_balance: int


@transaction.atomic
def cancel_redemption(
    *, redemption: Redemption, actor=None, reason: str = "", reason_code: str = ""
) -> CancellationResult:
    """Undo a redemption: points back, stock back, its coupons voided. `reason` is what a person
    typed (kept as it is, also on the ledger rows); `reason_code` (`Redemption.CancelReason`) is
    where code cancelled it, rendered when read.

    Refused when it is already cancelled (AlreadyCancelled) or one of its coupons was used
    (CouponUsed). The points come back as `redemption_return` rows with the expiry dates they
    had when they were spent (one lot per date); points whose date has passed meanwhile expire
    at once, as they would have had the redemption never happened.
    """
    member = lock_objects.member_for_update(redemption.member_id)
    redemption = lock_objects.redemption_for_update(redemption.pk)
    if redemption.status == Redemption.Status.CANCELLED:
        raise AlreadyCancelled(_("This redemption was already cancelled."))
    account = ledger.lock_or_open_account(member, selectors.tiers())
    reward = lock_objects.reward_for_update(redemption.reward_id)
    for coupon in lock_objects.coupons_for_update(redemption_id=redemption.pk):
        # Raises CouponUsed for a used coupon: the whole cancellation rolls back.
        coupon_services.void_locked_coupon(coupon, reason_code=Coupon.VoidReason.REDEMPTION_CANCELLED)
    today = timezone.localdate()
    parts = [(datetime.date.fromisoformat(day), points) for day, points in redemption.lots_taken]
    if sum(points for _day, points in parts) != redemption.points_spent:
        # Rows written before dates were kept: give everything back with today's policy date.
        parts = [(None, redemption.points_spent)]
    for expires_on, points in parts:
        ledger.credit(
            account,
            kind=LedgerEntry.Kind.REDEMPTION_RETURN,
            points=points,
            earned_on=today,
            expires_on=expires_on,
            reason_code=LedgerEntry.Reason.REDEMPTION_CANCELLED,
            reason_params={"reward": reward.name},
            reason=reason,
            actor=actor,
        )
    ledger.save_account(account)
    if reward.stock is not None:
        reward.stock += redemption.quantity
        reward.save(update_fields=["stock", "updated_at"])
    redemption.status = Redemption.Status.CANCELLED
    redemption.cancelled_at = timezone.now()
    redemption.cancelled_by = ledger.real_actor(actor)
    redemption.cancel_reason_code = reason_code
    redemption.cancel_reason = (reason or "")[:200]
    redemption.points_returned = redemption.points_spent
    redemption.save(
        update_fields=[
            "status",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason_code",
            "cancel_reason",
            "points_returned",
        ]
    )
    return CancellationResult(
        redemption=redemption, points_returned=redemption.points_spent, points_balance=account.balance
    )
