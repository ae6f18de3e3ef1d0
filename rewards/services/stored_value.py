"""Stored value (储值卡): every change of a member's prepaid balance (docs/rules/stored-value.md).

Each verb is one transaction that locks the member row, then the stored-value account
(`rewards.lock_objects`), writes the ledger row(s) and saves the account, so the account always
equals its ledger's sums. Each is idempotent on its `external_ref`: the same request again answers
the first result (`created=False`, nothing written); a different request with that reference raises
`IdempotencyConflict`. Two identical requests at once queue on the member lock; the second then
finds the first's row. A verb called inside a caller's transaction (a purchase posting paying from
the balance) runs in a savepoint, so a refusal leaves the caller's transaction usable.

The split of a payment between principal and bonus, and of its refund, is pure arithmetic
(`split_payment`, `split_refund`) kept apart from the writes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import crypto
from members.models import Member, PaymentMethod, Purchase, Store
from members.normalize import normalise_phone
from members.services import MemberErased
from rewards import lock_objects
from rewards.errors import (
    GiftUnavailable,
    IdempotencyConflict,
    InsufficientBalance,
    PaymentRefundExceeded,
    TopUpRuleUnavailable,
)
from rewards.models import (
    LedgerEntry,
    StoredValueAccount,
    StoredValueBonusLot,
    StoredValueEntry,
    StoredValueGift,
    TopUp,
    TopUpRule,
)
from rewards.services import grants
from rewards.services.ledger import real_actor

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The most one top-up, payment, refund, adjustment or gift may move: far above a shop's real ones,
# low enough that a typing slip (an extra zero or two) is refused rather than recorded.
MAX_STORED_VALUE_AMOUNT = Decimal("100000.00")
# Methods a top-up may be paid with (money from outside the system): not the stored value itself.
TOP_UP_PAYMENT_CHOICES = [
    (value, label) for value, label in PaymentMethod.choices if value != PaymentMethod.STORED_VALUE
]
TOP_UP_PAYMENT_METHODS = [value for value, _label in TOP_UP_PAYMENT_CHOICES]
GIFT_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the till
GIFT_CODE_LENGTH = 12

Kind = StoredValueEntry.Kind
T = TypeVar("T")


# --- the arithmetic (no ORM) ---


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split_payment(amount: Decimal, principal: Decimal, bonus: Decimal) -> tuple[Decimal, Decimal]:
    """(principal share, bonus share) of a payment of `amount` from these balances.

    In proportion to the balances: the principal share is `amount × principal / (principal + bonus)`
    rounded half-up to the cent, the bonus share the rest. Neither exceeds its balance (the exact
    principal share lies between `amount − bonus` and `principal`, both whole cents, and rounding to
    the cent cannot cross either), so neither balance goes below zero. The caller has checked
    `amount <= principal + bonus`."""
    assert ZERO < amount <= principal + bonus
    principal_share = _cents(amount * principal / (principal + bonus))
    return principal_share, amount - principal_share


def split_refund(
    amount: Decimal, *, paid_principal: Decimal, paid_bonus: Decimal, left_principal: Decimal, left_bonus: Decimal
) -> tuple[Decimal, Decimal]:
    """(principal, bonus) returned by a refund of `amount` of a payment that took `paid_principal`
    and `paid_bonus`, of which `left_…` are not yet refunded.

    In the payment's own proportion (principal share rounded half-up to the cent), kept within what
    is left of each part, so refunds together never return more principal or bonus than the payment
    took, and the last refund returns exactly the rest. The caller has checked
    `amount <= left_principal + left_bonus`."""
    assert ZERO < amount <= left_principal + left_bonus
    principal_share = _cents(amount * paid_principal / (paid_principal + paid_bonus))
    principal_share = max(min(principal_share, left_principal), amount - left_bonus)
    return principal_share, amount - principal_share


def fingerprint(**body) -> str:
    """A hash of a normalised request: equal requests hash equal."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# --- results ---


@dataclass(frozen=True)
class BalanceChange:
    """What a change did: its ledger row, the principal and bonus it moved (signed), and the balances
    after it. `created` is False when this answers a retry from the first answer."""

    entry: StoredValueEntry
    principal_delta: Decimal
    bonus_delta: Decimal
    principal: Decimal
    bonus: Decimal
    created: bool

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus

    @classmethod
    def of(cls, entry: StoredValueEntry, *, created: bool) -> BalanceChange:
        return cls(
            entry=entry,
            principal_delta=entry.principal_delta,
            bonus_delta=entry.bonus_delta,
            principal=entry.principal_after,
            bonus=entry.bonus_after,
            created=created,
        )


@dataclass(frozen=True)
class TopUpResult:
    top_up: TopUp
    principal: Decimal  # the balances just after this top-up
    bonus: Decimal
    created: bool

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus


@dataclass(frozen=True)
class GiftResult:
    gift: StoredValueGift
    code: str  # for the buyer to pass on; the same code answers a retry
    principal: Decimal  # the buyer's balances just after buying it
    bonus: Decimal
    created: bool

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus


@dataclass(frozen=True)
class BonusExpiryRun:
    accounts: int
    amount: Decimal


# --- validation shared by every verb ---


def _amount(value, field: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """A money amount in whole cents, above zero (or non-zero), at most `MAX_STORED_VALUE_AMOUNT`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: [_("Enter an amount of money.")]}) from None
    if not amount.is_finite() or amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValidationError({field: [_("Enter an amount in yuan with at most two decimal places.")]})
    if abs(amount) > MAX_STORED_VALUE_AMOUNT:
        raise ValidationError({field: [_("At most ¥%(max)s at a time.") % {"max": f"{MAX_STORED_VALUE_AMOUNT:,}"}]})
    if amount <= 0 and not allow_negative:
        raise ValidationError({field: [_("Enter an amount above 0.")]})
    return amount.quantize(CENT)


def _reference(external_ref: str | None, *, required: bool = True) -> str | None:
    ref = (external_ref or "").strip()
    if not ref:
        if required:
            raise ValidationError({"external_ref": [_("Give the external reference of this request.")]})
        return None
    if len(ref) > 64:
        raise ValidationError({"external_ref": [_("At most 64 characters.")]})
    return ref


def _locked_account(member: Member, *, require_active: bool) -> tuple[Member, StoredValueAccount]:
    """The member row and their stored-value account, both locked; the account is opened on first use."""
    member = lock_objects.member_for_update(member.pk)
    if require_active and member.status != Member.Status.ACTIVE:
        raise MemberErased(_("Member %(member_no)s is not active.") % {"member_no": member.member_no})
    account = lock_objects.stored_value_account_for_update(member.pk)
    if account is None:
        StoredValueAccount.objects.bulk_create([StoredValueAccount(member=member)], ignore_conflicts=True)
        account = lock_objects.stored_value_account_for_update(member.pk)
    return member, account


def _entry_replay(external_ref: str | None, fingerprint_: str) -> BalanceChange | None:
    if not external_ref:
        return None
    entry = StoredValueEntry.objects.filter(external_ref=external_ref).first()
    if entry is None:
        return None
    if entry.fingerprint != fingerprint_:
        raise IdempotencyConflict(
            _("The external reference “%(ref)s” was already used for a different request.") % {"ref": external_ref}
        )
    return BalanceChange.of(entry, created=False)


def _idempotent(work: Callable[[], T], replay: Callable[[], T | None]) -> T:
    """Run `work` in a savepoint; when it meets the unique reference of a request written meanwhile
    (the same reference for another member, who was not queued behind the same lock), answer from
    `replay` instead."""
    try:
        with transaction.atomic():
            return work()
    except IntegrityError:
        with transaction.atomic():
            answer = replay()
        if answer is None:
            raise
        return answer


# --- the writes ---


def _write(
    account: StoredValueAccount,
    *,
    kind: str,
    principal_delta: Decimal = ZERO,
    bonus_delta: Decimal = ZERO,
    actor=None,
    **fields,
) -> StoredValueEntry:
    """Move the account (in memory; the caller saves it) and record the ledger row."""
    account.principal += principal_delta
    account.bonus += bonus_delta
    actor = real_actor(actor)
    return StoredValueEntry.objects.create(
        account=account,
        member_id=account.member_id,
        kind=kind,
        principal_delta=principal_delta,
        bonus_delta=bonus_delta,
        principal_after=account.principal,
        bonus_after=account.bonus,
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        **fields,
    )


def _save(account: StoredValueAccount) -> None:
    account.save(update_fields=["principal", "bonus", "updated_at"])


def _take_bonus(account: StoredValueAccount, amount: Decimal) -> tuple[bool, datetime.date | None]:
    """Draw `amount` from the bonus lots, those that lapse first first. Returns (whether any drawn lot
    never lapses, the latest end date drawn): a refund gives the bonus back with that end date."""
    if amount <= 0:
        return False, None
    left, changed, never, latest = amount, [], False, None
    for lot in lock_objects.stored_value_lots_for_update(account.pk):
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        changed.append(lot)
        if lot.expires_on is None:
            never = True
        else:
            latest = max(latest or lot.expires_on, lot.expires_on)
        if not left:
            break
    if left:  # the lots hold the bonus balance exactly; anything else is a corrupted account
        raise RuntimeError(f"Stored-value account {account.pk}: bonus lots hold less than the bonus balance.")
    StoredValueBonusLot.objects.bulk_update(changed, ["remaining"])
    return never, latest


def _bonus_lot(account: StoredValueAccount, entry: StoredValueEntry, expires_on: datetime.date | None) -> None:
    StoredValueBonusLot.objects.create(
        entry=entry, account=account, amount=entry.bonus_delta, remaining=entry.bonus_delta, expires_on=expires_on
    )


# --- top-ups ---


def _top_up_replay(external_ref: str, fingerprint_: str) -> TopUpResult | None:
    found = TopUp.objects.filter(external_ref=external_ref).first()
    if found is None:
        return None
    if found.fingerprint != fingerprint_:
        raise IdempotencyConflict(
            _("The external reference “%(ref)s” was already used for a different top-up.") % {"ref": external_ref}
        )
    last = found.entries.order_by("-id").first()
    return TopUpResult(top_up=found, principal=last.principal_after, bonus=last.bonus_after, created=False)


def check_rule(rule: TopUpRule, *, member: Member, amount: Decimal, today: datetime.date) -> None:
    """Raise TopUpRuleUnavailable unless `rule` gives its bonus to this top-up: active and within its
    dates today, `amount` at least its `pay_amount`, and (once per member) not used by the member."""
    if not rule.is_valid_on(today):
        raise TopUpRuleUnavailable(_("The top-up rule “%(rule)s” is not on offer today.") % {"rule": rule.name})
    if amount < rule.pay_amount:
        raise TopUpRuleUnavailable(
            _("The top-up rule “%(rule)s” needs at least ¥%(pay)s.") % {"rule": rule.name, "pay": rule.pay_amount}
        )
    if rule.once_per_member and TopUp.objects.filter(member=member, rule=rule).exists():
        raise TopUpRuleUnavailable(
            _("Member %(member_no)s has already used the top-up rule “%(rule)s”, which is once per member.")
            % {"member_no": member.member_no, "rule": rule.name}
        )


def top_up(
    *,
    member: Member,
    amount,
    external_ref: str,
    payment_method: str,
    rule: TopUpRule | None = None,
    store: Store | None = None,
    actor=None,
) -> TopUpResult:
    """Add `amount` paid outside the system (cash, card, WeChat Pay…) to the principal; with `rule`
    (only the one given: `selectors_stored_value.applicable_rules` offers them), add its bonus as a
    bonus lot (ending after the rule's days, or never) and its points (`grants.grant_points`).

    Refused: amount ≤ 0 or above the limit, a payment method that is not money from outside
    (ValidationError); a rule not on offer, above the amount or already used once
    (TopUpRuleUnavailable); an inactive member (MemberErased)."""
    amount = _amount(amount)
    external_ref = _reference(external_ref)
    if payment_method not in TOP_UP_PAYMENT_METHODS:
        raise ValidationError({"payment_method": [_("Choose how the customer paid for the top-up.")]})
    print_ = fingerprint(
        kind="top_up",
        member=member.member_no,
        amount=str(amount),
        rule=rule.pk if rule else None,
        payment_method=payment_method,
        store=store.code if store else None,
    )

    def work() -> TopUpResult:
        locked, account = _locked_account(member, require_active=True)
        replay = _top_up_replay(external_ref, print_)
        if replay is not None:
            return replay
        today = timezone.localdate()
        bonus, expires_on, points = ZERO, None, 0
        if rule is not None:
            check_rule(rule, member=locked, amount=amount, today=today)
            bonus, points = rule.bonus_amount, rule.points
            if bonus and rule.bonus_expires_after_days:
                expires_on = today + datetime.timedelta(days=rule.bonus_expires_after_days)
        record = TopUp.objects.create(
            member=locked,
            amount=amount,
            rule=rule,
            bonus=bonus,
            bonus_expires_on=expires_on,
            points=points,
            payment_method=payment_method,
            store=store,
            external_ref=external_ref,
            fingerprint=print_,
            actor=real_actor(actor),
        )
        _write(account, kind=Kind.TOP_UP, principal_delta=amount, top_up=record, store=store, actor=actor)
        if bonus:
            entry = _write(account, kind=Kind.BONUS, bonus_delta=bonus, top_up=record, store=store, actor=actor)
            _bonus_lot(account, entry, expires_on)
        _save(account)
        if points:
            grants.grant_points(
                member=locked,
                points=points,
                reason_code=LedgerEntry.Reason.TOP_UP,
                reason_params={"ref": external_ref},
                actor=actor,
            )
        return TopUpResult(top_up=record, principal=account.principal, bonus=account.bonus, created=True)

    return _idempotent(work, lambda: _top_up_replay(external_ref, print_))


# --- payments and their refunds ---


def pay_from_balance(
    *,
    member: Member,
    amount,
    external_ref: str,
    purchase: Purchase | None = None,
    store: Store | None = None,
    actor=None,
) -> BalanceChange:
    """Pay `amount` from the balance, principal and bonus in proportion (`split_payment`); the bonus
    share is drawn from the lots that lapse first.

    Raises InsufficientBalance (nothing written) when principal + bonus is less than `amount`.
    Usable inside a purchase posting's transaction (`purchase` links the row to it)."""
    amount = _amount(amount)
    external_ref = _reference(external_ref)
    print_ = fingerprint(
        kind=Kind.PAYMENT,
        member=member.member_no,
        amount=str(amount),
        purchase=purchase.pk if purchase else None,
        store=store.code if store else None,
    )

    def work() -> BalanceChange:
        _member, account = _locked_account(member, require_active=True)
        replay = _entry_replay(external_ref, print_)
        if replay is not None:
            return replay
        if account.total < amount:
            raise InsufficientBalance(
                _("The stored-value balance is ¥%(balance)s; ¥%(amount)s is needed.")
                % {"balance": account.total, "amount": amount}
            )
        principal_share, bonus_share = split_payment(amount, account.principal, account.bonus)
        never, latest = _take_bonus(account, bonus_share)
        entry = _write(
            account,
            kind=Kind.PAYMENT,
            principal_delta=-principal_share,
            bonus_delta=-bonus_share,
            purchase=purchase,
            store=store,
            actor=actor,
            external_ref=external_ref,
            fingerprint=print_,
            bonus_expires_on=None if never else latest,
        )
        _save(account)
        return BalanceChange.of(entry, created=True)

    return _idempotent(work, lambda: _entry_replay(external_ref, print_))


def refund_to_balance(
    *,
    external_ref: str,
    payment: StoredValueEntry | None = None,
    purchase: Purchase | None = None,
    amount=None,
    store: Store | None = None,
    actor=None,
) -> BalanceChange:
    """Give back to the balance `amount` (default: all not yet refunded) of a payment, named by its
    row or by the purchase it paid (which must have exactly one stored-value payment).

    Principal and bonus return in the payment's own proportion (`split_refund`), never more than it
    took; the bonus share returns as a bonus lot ending when the latest lot it came from ended (never,
    if any of them never lapses). Raises PaymentRefundExceeded above what is left to refund."""
    external_ref = _reference(external_ref)
    if payment is None:
        if purchase is None:
            raise ValidationError(_("Name the payment or the purchase to refund."))
        payments = list(StoredValueEntry.objects.filter(purchase=purchase, kind=Kind.PAYMENT)[:2])
        if len(payments) != 1:
            raise ValidationError({"purchase": [_("This purchase has no single stored-value payment to refund.")]})
        payment = payments[0]
    if payment.kind != Kind.PAYMENT:
        raise ValidationError({"payment": [_("Only a stored-value payment can be refunded to the balance.")]})
    amount = None if amount is None else _amount(amount)
    print_ = fingerprint(
        kind=Kind.PAYMENT_REFUND,
        payment=payment.pk,
        amount=None if amount is None else str(amount),
        store=store.code if store else None,
    )

    def work() -> BalanceChange:
        _member, account = _locked_account(payment.member, require_active=False)
        replay = _entry_replay(external_ref, print_)
        if replay is not None:
            return replay
        paid_principal, paid_bonus = -payment.principal_delta, -payment.bonus_delta
        left_principal, left_bonus = paid_principal, paid_bonus
        for refund in StoredValueEntry.objects.filter(refunded_payment=payment).only("principal_delta", "bonus_delta"):
            left_principal -= refund.principal_delta
            left_bonus -= refund.bonus_delta
        wanted = left_principal + left_bonus if amount is None else amount
        if wanted <= 0 or wanted > left_principal + left_bonus:
            raise PaymentRefundExceeded(
                _("¥%(left)s of this stored-value payment is left to refund.") % {"left": left_principal + left_bonus}
            )
        principal_share, bonus_share = split_refund(
            wanted,
            paid_principal=paid_principal,
            paid_bonus=paid_bonus,
            left_principal=left_principal,
            left_bonus=left_bonus,
        )
        entry = _write(
            account,
            kind=Kind.PAYMENT_REFUND,
            principal_delta=principal_share,
            bonus_delta=bonus_share,
            purchase_id=payment.purchase_id,
            refunded_payment=payment,
            store=store,
            actor=actor,
            external_ref=external_ref,
            fingerprint=print_,
        )
        if bonus_share:
            _bonus_lot(account, entry, payment.bonus_expires_on)
        _save(account)
        return BalanceChange.of(entry, created=True)

    return _idempotent(work, lambda: _entry_replay(external_ref, print_))


# --- managers: cash-out and adjustment ---


def cash_out(*, member: Member, external_ref: str, store: Store | None = None, actor=None) -> BalanceChange:
    """Pay the customer back the whole principal (outside the system); the bonus lapses with it, on
    the same row. Raises InsufficientBalance when there is no principal to pay back. Managers only
    (the callers check `rewards.cash_out_stored_value`)."""
    external_ref = _reference(external_ref)
    print_ = fingerprint(kind=Kind.CASH_OUT, member=member.member_no, store=store.code if store else None)

    def work() -> BalanceChange:
        _member, account = _locked_account(member, require_active=False)
        replay = _entry_replay(external_ref, print_)
        if replay is not None:
            return replay
        if account.principal <= 0:
            raise InsufficientBalance(_("There is no principal to cash out."))
        bonus = account.bonus
        _take_bonus(account, bonus)
        entry = _write(
            account,
            kind=Kind.CASH_OUT,
            principal_delta=-account.principal,
            bonus_delta=-bonus,
            store=store,
            actor=actor,
            external_ref=external_ref,
            fingerprint=print_,
        )
        _save(account)
        return BalanceChange.of(entry, created=True)

    return _idempotent(work, lambda: _entry_replay(external_ref, print_))


def adjust_balance(
    *,
    member: Member,
    principal_delta=ZERO,
    bonus_delta=ZERO,
    reason: str,
    actor,
    external_ref: str | None = None,
    store: Store | None = None,
) -> BalanceChange:
    """A manager's correction of the principal and/or the bonus, with a required reason. A bonus added
    by hand never lapses. Raises InsufficientBalance when either balance would go below zero."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for the adjustment.")]})
    principal_delta = _amount(principal_delta or ZERO, "principal_delta", allow_negative=True)
    bonus_delta = _amount(bonus_delta or ZERO, "bonus_delta", allow_negative=True)
    if not principal_delta and not bonus_delta:
        raise ValidationError(_("Change the principal, the bonus or both."))
    external_ref = _reference(external_ref, required=False)
    print_ = fingerprint(
        kind=Kind.ADJUSTMENT,
        member=member.member_no,
        principal=str(principal_delta),
        bonus=str(bonus_delta),
        reason=reason,
    )

    def work() -> BalanceChange:
        _member, account = _locked_account(member, require_active=False)
        replay = _entry_replay(external_ref, print_)
        if replay is not None:
            return replay
        if account.principal + principal_delta < 0 or account.bonus + bonus_delta < 0:
            raise InsufficientBalance(
                _("The adjustment would take the balance below zero (principal ¥%(principal)s, bonus ¥%(bonus)s).")
                % {"principal": account.principal, "bonus": account.bonus}
            )
        if bonus_delta < 0:
            _take_bonus(account, -bonus_delta)
        entry = _write(
            account,
            kind=Kind.ADJUSTMENT,
            principal_delta=principal_delta,
            bonus_delta=bonus_delta,
            reason=reason[:200],
            store=store,
            actor=actor,
            external_ref=external_ref,
            fingerprint=print_ if external_ref else "",
        )
        if bonus_delta > 0:
            _bonus_lot(account, entry, None)
        _save(account)
        return BalanceChange.of(entry, created=True)

    return _idempotent(work, lambda: _entry_replay(external_ref, print_))


# --- bonus expiry (nightly) ---


def expire_stored_value_bonuses(*, today: datetime.date | None = None, batch_size: int = 500) -> BonusExpiryRun:
    """Lapse every bonus lot whose end date is before `today` (default: today): one `bonus_expiry`
    row per account for the sum of its due lots, each account in its own transaction under the usual
    locks. Safe to run twice: an emptied lot holds nothing to lapse."""
    today = today or timezone.localdate()
    accounts, total = 0, ZERO
    while True:
        account_ids = list(
            StoredValueBonusLot.objects.filter(remaining__gt=0, expires_on__lt=today)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch_size]
        )
        if not account_ids:
            return BonusExpiryRun(accounts=accounts, amount=total)
        for account_id in account_ids:
            lapsed = _expire_account(account_id, today)
            if lapsed:
                accounts += 1
                total += lapsed


@transaction.atomic
def _expire_account(account_id: int, today: datetime.date) -> Decimal:
    member_id = StoredValueAccount.objects.filter(pk=account_id).values_list("member_id", flat=True).get()
    lock_objects.member_for_update(member_id)
    account = lock_objects.stored_value_account_for_update(member_id)
    lots = list(lock_objects.stored_value_due_lots_for_update(account.pk, today))
    lapsed = sum((lot.remaining for lot in lots), ZERO)
    if not lapsed:
        return ZERO
    for lot in lots:
        lot.remaining = ZERO
    StoredValueBonusLot.objects.bulk_update(lots, ["remaining"])
    # No sentence stored: the kind says it, and `reason` keeps only what a person typed
    # (rewards.ledger_reasons); the lots keep their end dates.
    _write(account, kind=Kind.BONUS_EXPIRY, bonus_delta=-lapsed)
    _save(account)
    return lapsed


# --- gifts ---


def _gift_code() -> str:
    return "".join(secrets.choice(GIFT_CODE_ALPHABET) for _i in range(GIFT_CODE_LENGTH))


def normalise_gift_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _gift_replay(external_ref: str, fingerprint_: str) -> GiftResult | None:
    gift = StoredValueGift.objects.filter(external_ref=external_ref).first()
    if gift is None:
        return None
    if gift.fingerprint != fingerprint_:
        raise IdempotencyConflict(
            _("The external reference “%(ref)s” was already used for a different gift.") % {"ref": external_ref}
        )
    sent = gift.entries.get(kind=Kind.GIFT_SENT)
    return GiftResult(gift=gift, code=gift.code, principal=sent.principal_after, bonus=sent.bonus_after, created=False)


def send_gift(
    *, buyer: Member, recipient_phone: str, amount, external_ref: str, store: Store | None = None, actor=None
) -> GiftResult:
    """The buyer gives `amount` of their principal (a gift is money; the shop's bonus stays with the
    buyer) to a phone number, as a gift claimed once with a code (`claim_gift`). Until claimed it is
    owed by the shop (the liability report counts it). Raises InsufficientBalance when the principal
    is short."""
    amount = _amount(amount)
    external_ref = _reference(external_ref)
    try:
        phone = normalise_phone(recipient_phone)
    except ValidationError as error:
        raise ValidationError({"recipient_phone": error.messages}) from None
    print_ = fingerprint(
        kind=Kind.GIFT_SENT,
        member=buyer.member_no,
        phone=crypto.lookup_hash(phone),
        amount=str(amount),
        store=store.code if store else None,
    )

    def work() -> GiftResult:
        _member, account = _locked_account(buyer, require_active=True)
        replay = _gift_replay(external_ref, print_)
        if replay is not None:
            return replay
        if account.principal < amount:
            raise InsufficientBalance(
                _("A gift is paid from the principal, which is ¥%(principal)s; ¥%(amount)s is needed.")
                % {"principal": account.principal, "amount": amount}
            )
        code = _gift_code()
        gift = StoredValueGift.objects.create(
            buyer=buyer,
            recipient_phone=phone,
            recipient_phone_hash=crypto.lookup_hash(phone),
            amount=amount,
            code=code,
            code_hash=crypto.lookup_hash(code),
            external_ref=external_ref,
            fingerprint=print_,
            store=store,
        )
        _write(
            account,
            kind=Kind.GIFT_SENT,
            principal_delta=-amount,
            gift=gift,
            store=store,
            actor=actor,
            external_ref=external_ref,
            fingerprint=print_,
        )
        _save(account)
        return GiftResult(gift=gift, code=code, principal=account.principal, bonus=account.bonus, created=True)

    return _idempotent(work, lambda: _gift_replay(external_ref, print_))


@transaction.atomic
def claim_gift(*, code: str, member: Member, store: Store | None = None, actor=None) -> BalanceChange:
    """Add an unclaimed gift to the principal of the member whose phone it was bought for. Once: a
    second claim is refused (`gift_already_claimed`), as are an unknown code (`gift_unknown`) and a
    member with another phone (`gift_not_yours`)."""
    code = normalise_gift_code(code)
    locked, account = _locked_account(member, require_active=True)
    gift = lock_objects.stored_value_gift_for_update(crypto.lookup_hashes(code)) if code else None
    if gift is None:
        raise GiftUnavailable(_("No gift has this code."), code="gift_unknown")
    if gift.claimed_by_id is not None:
        raise GiftUnavailable(_("This gift has already been claimed."), code="gift_already_claimed")
    try:
        phone_hashes = crypto.lookup_hashes(normalise_phone(locked.phone or ""))
    except ValidationError:
        phone_hashes = []
    if gift.recipient_phone_hash not in phone_hashes:
        raise GiftUnavailable(
            _("This gift was bought for another phone number than the member's."), code="gift_not_yours"
        )
    gift.claimed_by, gift.claimed_at = locked, timezone.now()
    gift.save(update_fields=["claimed_by", "claimed_at"])
    entry = _write(account, kind=Kind.GIFT_CLAIMED, principal_delta=gift.amount, gift=gift, store=store, actor=actor)
    _save(account)
    return BalanceChange.of(entry, created=True)
