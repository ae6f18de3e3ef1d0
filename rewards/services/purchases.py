"""Posting purchases: record them in `members`, earn points, re-evaluate the tier — one transaction.

A till's purchase (`apply_member_pricing`, or an API call with `coupon_code` / `points_to_use`) is
priced by `rewards.services.checkout.quote_checkout` inside the transaction, after the member's
and the account's row locks: the tier discount and coupon are recorded with it, the coupon is
redeemed and the points paid are spent (oldest lots first, a `spend` row linked to the purchase)
in the same transaction, and points are earned on the money paid only. Stored value given as a
tender (`tenders`) is paid from the member's balance in the same transaction
(`stored_value.pay_from_balance`, linked to the purchase): its principal share counts as money for
earning, its bonus share only when managers switch `earn_on_stored_value_bonus` on
(`earning.earning_base`); a short balance rolls the whole posting back. A walk-in (no member) is
recorded with no points, ledger rows or tier.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import services as members_services
from members.models import Member, Purchase, Store
from members.services import DuplicatePurchase, PurchaseLine
from rewards import _sql, lock_objects, rules, selectors
from rewards.errors import CouponInvalid, IdempotencyConflict, InsufficientPoints
from rewards.models import Coupon, LedgerEntry, MembershipPlan, PurchasePosting, Tier, TierHistory
from rewards.services import checkout, earning, ledger, stored_value
from rewards.services import coupons as coupon_services

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PostingResult:
    purchase: Purchase
    points_earned: int
    points_balance: int
    tier: Tier | None  # None for a walk-in
    tier_changed: bool
    created: bool  # False when this answers a retry from the stored first answer
    points_used: int = 0
    points_value: Decimal = ZERO
    tier_discount: Decimal = ZERO
    coupon_discount: Decimal = ZERO
    coupon: Coupon | None = None
    tier_before: Tier | None = None
    stored_value_used: Decimal = ZERO
    stored_value_bonus: Decimal = ZERO  # its bonus share; the rest is principal
    stored_value_balance: Decimal | None = None  # the member's stored value just after; None: not used

    @property
    def stored_value_principal(self) -> Decimal:
        return self.stored_value_used - self.stored_value_bonus


def _norm_money(value) -> str | None:
    if value is None:
        return None
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return str(value)


def request_fingerprint(
    *,
    member: Member | None,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None,
    channel: str,
    payment_method: str,
    total,
    coupon_code: str | None = None,
    points_to_use: int = 0,
    apply_member_pricing: bool = False,
    stored_value: Decimal = ZERO,
) -> str:
    """A hash of the normalised request: equal bodies (in any key or line order) hash equal.

    The till's fields join the body only when set, so a purchase posted before they existed
    still answers its retry from the stored fingerprint."""
    body = {
        "member": member.member_no if member is not None else None,
        "external_ref": external_ref,
        "ordered_at": ordered_at.astimezone(datetime.UTC).isoformat(),
        "store": store.code if store else None,
        "channel": channel or "store",
        "payment_method": payment_method or "",
        "total": _norm_money(total),
        "items": sorted(
            [
                item.sku,
                item.name or "",
                (item.category or "").strip(),
                item.quantity,
                _norm_money(item.unit_price),
                _norm_money(item.discount),
            ]
            for item in items
        ),
    }
    if coupon_code:
        body["coupon_code"] = coupon_services.normalise_code(coupon_code)
    if points_to_use:
        body["points_to_use"] = int(points_to_use)
    if apply_member_pricing:
        body["member_pricing"] = True
    if stored_value:
        body["tenders"] = {checkout.STORED_VALUE: _norm_money(stored_value)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# Part of every request digest: change it when what a body means changes (the fingerprint's
# normalisation, the input's defaults), so retries of older postings are compared by fingerprint.
REQUEST_DIGEST_VERSION = "1"


def request_digest(data) -> str:
    """A digest of a POST /purchases/ body as parsed from its JSON — keys in any order, any
    spacing — and of the time zone that reads its naive times: a retry whose digest equals its
    first posting's (`PurchasePosting.request_digest`) is that very request, and is answered
    without being validated or fingerprinted again (`answer_same_request`). Bodies that differ only
    in how a value is written ("99.5" and "99.50") digest apart and are compared by fingerprint."""
    canonical = json.dumps(
        [REQUEST_DIGEST_VERSION, timezone.get_current_timezone_name(), data],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _posting_for(external_ref: str) -> PurchasePosting | None:
    # A new purchase (the common case) costs one small query in plain SQL; only a retry loads
    # the stored posting with its purchase, member and tier.
    posting_id = _sql.posting_id_for_ref(external_ref)
    if posting_id is None:
        return None
    # The tiers come from the cache (selectors.tiers) rather than two more joins; the coupon (rare)
    # loads on first use.
    posting = PurchasePosting.objects.select_related("purchase", "purchase__member").get(pk=posting_id)
    by_id = {tier.pk: tier for tier in selectors.tiers()}
    for field in ("tier", "tier_before"):
        tier_id = getattr(posting, f"{field}_id")
        if tier_id in by_id:
            PurchasePosting._meta.get_field(field).set_cached_value(posting, by_id[tier_id])
    return posting


def _replay(posting: PurchasePosting, fingerprint: str) -> PostingResult:
    if posting.fingerprint != fingerprint:
        raise IdempotencyConflict(
            _("The external reference “%(ref)s” was already used for a different purchase.")
            % {"ref": posting.purchase.external_ref}
        )
    return _result(posting, created=False)


def _result(posting: PurchasePosting, *, created: bool) -> PostingResult:
    return PostingResult(
        purchase=posting.purchase,
        points_earned=posting.points_earned,
        points_balance=posting.points_balance,
        tier=posting.tier,
        tier_changed=posting.tier_changed,
        created=created,
        points_used=posting.points_used,
        points_value=posting.points_value,
        tier_discount=posting.tier_discount,
        coupon_discount=posting.coupon_discount,
        coupon=posting.coupon,
        tier_before=posting.tier_before,
        stored_value_used=posting.stored_value_paid,
        stored_value_bonus=posting.stored_value_bonus,
        stored_value_balance=posting.stored_value_balance if posting.stored_value_paid else None,
    )


@transaction.atomic
def post_purchase(
    *,
    member: Member | None,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None = None,
    channel: str = "store",
    payment_method: str = "",
    total: Decimal | None = None,
    actor=None,
    coupon_code: str | None = None,
    points_to_use: int = 0,
    apply_member_pricing: bool = False,
    tenders=None,
    ref_checked: bool = False,
    request_digest: str = "",
) -> PostingResult:
    """Record a purchase, earn its points, add its spend and upgrade the tier, all or nothing.

    Priced at the till (`apply_member_pricing`, or a `coupon_code` / `points_to_use`): the quote
    (`quote_checkout`) is taken under the member's and account's locks and recorded as is — the
    tier discount and coupon as order discounts, the points paid as a tender — and `total` may not
    be given. A coupon that cannot be used raises CouponInvalid; points beyond the balance raise
    InsufficientPoints; points beyond the cap or below the minimum are a ValidationError; stored
    value (`tenders`, see `checkout.stored_value_asked`) beyond what is left to pay is a
    ValidationError, beyond the balance (read under its lock) InsufficientBalance:
    nothing is written in each case. `member` None records a walk-in sale: no points, no ledger
    rows, no tier.

    Idempotent on `external_ref`: the same request again answers the first result (nothing is
    written); a different request with that reference raises IdempotencyConflict. Concurrent
    identical requests queue on the member's row lock; all but the first then meet the unique
    external reference and answer from the stored posting.

    `ref_checked`: the caller has just looked the reference up and found no posting (the API,
    `answer_retry`), so the check is not made again here; a posting that takes the reference
    meanwhile is still met at the purchase's insert and answered as a retry or a conflict.

    `request_digest`: the API body's digest (`request_digest()`), kept with a new posting so that
    a retry of that very body is answered by `answer_same_request`.
    """
    external_ref = (external_ref or "").strip()
    points_to_use, sv_asked, priced, fingerprint = _asked(
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        coupon_code=coupon_code,
        points_to_use=points_to_use,
        apply_member_pricing=apply_member_pricing,
        tenders=tenders,
    )
    posting = _posting_for(external_ref) if external_ref and not ref_checked else None
    if posting is not None:
        return _replay(posting, fingerprint)
    try:
        # `record_purchase` raises DuplicatePurchase from inside its own savepoint, so this
        # transaction stays usable for the re-read below.
        return _post_new(
            member=member,
            external_ref=external_ref,
            ordered_at=ordered_at,
            items=items,
            store=store,
            channel=channel,
            payment_method=payment_method,
            total=total,
            actor=actor,
            fingerprint=fingerprint,
            request_digest=request_digest,
            priced=priced,
            coupon_code=coupon_code,
            points_to_use=points_to_use,
            sv_asked=sv_asked,
        )
    except DuplicatePurchase:
        posting = _posting_for(external_ref)
        if posting is None:
            raise IdempotencyConflict(
                _("The purchase “%(ref)s” was recorded without points (e.g. imported); it cannot be posted again.")
                % {"ref": external_ref}
            ) from None
        return _replay(posting, fingerprint)


def _asked(
    *,
    member,
    external_ref,
    ordered_at,
    items,
    store,
    channel,
    payment_method,
    total,
    coupon_code,
    points_to_use,
    apply_member_pricing,
    tenders,
):
    """(points asked, stored value asked, priced at the till, the request's fingerprint), with the
    refusals `post_purchase` makes before anything is read."""
    points_to_use = _points_asked(points_to_use)
    sv_asked = checkout.stored_value_asked(tenders)
    priced = bool(apply_member_pricing or coupon_code or points_to_use or sv_asked)
    if priced and total is not None:
        raise ValidationError(
            {"total": [_("A purchase priced at the till takes its total from the quote; leave the total out.")]}
        )
    fingerprint = request_fingerprint(
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        coupon_code=coupon_code,
        points_to_use=points_to_use,
        apply_member_pricing=priced,
        stored_value=sv_asked,
    )
    return points_to_use, sv_asked, priced, fingerprint


def answer_retry(
    posting: PurchasePosting | None,
    *,
    member: Member | None,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None = None,
    channel: str = "store",
    payment_method: str = "",
    total: Decimal | None = None,
    coupon_code: str | None = None,
    points_to_use: int = 0,
    apply_member_pricing: bool = False,
    tenders=None,
) -> PostingResult | None:
    """The stored first answer when `posting` — the posting of the request's external reference,
    looked up before any transaction (`selectors.posting_lookup`) — was posted from this very
    request (the same fingerprint, member and store); None otherwise, and `post_purchase` (given
    `ref_checked` when `posting` is None) decides: a new posting, or a conflict. A retry thus
    costs the one lookup: no serializer lookups, no transaction, no lock (issue 20)."""
    if posting is None:
        return None
    try:
        *_rest, fingerprint = _asked(
            member=member,
            external_ref=(external_ref or "").strip(),
            ordered_at=ordered_at,
            items=items,
            store=store,
            channel=channel,
            payment_method=payment_method,
            total=total,
            coupon_code=coupon_code,
            points_to_use=points_to_use,
            apply_member_pricing=apply_member_pricing,
            tenders=tenders,
        )
    except ValidationError:
        return None  # post_purchase refuses it the same way
    if posting.fingerprint != fingerprint:
        return None
    return _stored_answer(posting, member=member, store=store)


def answer_same_request(
    posting: PurchasePosting | None, *, request_digest: str, member: Member | None, store: Store | None
) -> PostingResult | None:
    """The stored first answer when `posting` (as `answer_retry` takes it) was posted from this
    very API body — its digest (`request_digest()`) is the one kept with the posting — for this
    member at this store, as the body names them today; None otherwise (no digest kept: a posting
    from the admin, the till, a batch, an import or from before digests; another body; a member
    or store that is not the posting's), and the caller validates the body and asks `answer_retry`.
    The same body passed the same checks the first time, so a retry of it costs neither the input's
    validation nor the fingerprint (issue 20)."""
    if posting is None or not posting.request_digest or posting.request_digest != request_digest:
        return None
    return _stored_answer(posting, member=member, store=store)


def _stored_answer(posting: PurchasePosting, *, member: Member | None, store: Store | None) -> PostingResult | None:
    """The first answer of `posting` to a retry by `member` at `store`; None when the posting is
    another member's or store's (then a conflict, or a 400 for an unknown one)."""
    purchase = posting.purchase
    if purchase.member_id != (member.pk if member is not None else None) or purchase.store_id != (
        store.pk if store is not None else None
    ):
        return None
    if member is not None:
        Purchase.member.field.set_cached_value(purchase, member)
    by_id = {tier.pk: tier for tier in selectors.tiers()}
    for field in ("tier", "tier_before"):
        tier_id = getattr(posting, f"{field}_id")
        if tier_id in by_id:
            PurchasePosting._meta.get_field(field).set_cached_value(posting, by_id[tier_id])
    return _result(posting, created=False)


def _points_asked(points_to_use) -> int:
    try:
        points = int(points_to_use or 0)
    except (TypeError, ValueError):
        points = -1
    if points < 0 or points != (points_to_use or 0):
        raise ValidationError({"points_to_use": [_("The points to use must be a whole number of 0 or more.")]})
    return points


def _check_quote(
    quote: checkout.Quote, *, member: Member | None, coupon_code: str | None, points_to_use: int, sv_asked=ZERO
):
    """Refuse, before anything is written, a coupon, points or stored value the quote did not apply."""
    if sv_asked and quote.stored_value_used != sv_asked:
        raise ValidationError(
            {
                "tenders": [
                    _("¥%(asked)s from stored value is more than the ¥%(due)s left to pay after points.")
                    % {"asked": sv_asked, "due": quote.stored_value_used}
                ]
            }
        )
    if coupon_code and not (quote.coupon is not None and quote.coupon.valid):
        raise CouponInvalid(quote.coupon.detail, reason=quote.coupon.reason)
    if points_to_use and quote.points_used != points_to_use:
        if member is not None and points_to_use > quote.points_balance:
            raise InsufficientPoints(
                _("The member has %(balance)d points; %(points)d are needed.")
                % {"balance": quote.points_balance, "points": points_to_use}
            )
        raise ValidationError({"points_to_use": [quote.points_message]})


def _post_new(
    *,
    member,
    external_ref,
    ordered_at,
    items,
    store,
    channel,
    payment_method,
    total,
    actor,
    fingerprint,
    request_digest="",
    priced=False,
    coupon_code=None,
    points_to_use=0,
    sv_asked=ZERO,
):
    if member is None:
        return _post_walk_in(
            external_ref=external_ref,
            ordered_at=ordered_at,
            items=items,
            store=store,
            channel=channel,
            payment_method=payment_method,
            total=total,
            actor=actor,
            fingerprint=fingerprint,
            request_digest=request_digest,
            priced=priced,
            coupon_code=coupon_code,
            points_to_use=points_to_use,
            sv_asked=sv_asked,
        )
    quote = None
    tiers = selectors.tiers()
    if priced:
        # Priced under the locks, in the usual order (member, account): the balance and the
        # tier the quote reads cannot change before the purchase is written.
        lock_objects.member_for_update(member.pk)
        account = ledger.lock_or_open_account(member, tiers)
        quote = checkout.quote_checkout(
            member=member,
            items=items,
            coupon_code=coupon_code,
            points_to_use=points_to_use,
            account=account,
            for_posting=True,
            tenders=[checkout.Tender(checkout.STORED_VALUE, sv_asked)] if sv_asked else None,
        )
        _check_quote(quote, member=member, coupon_code=coupon_code, points_to_use=points_to_use, sv_asked=sv_asked)
        total = quote.money_total  # money and stored value; the points' value is recorded apart
    purchase = members_services.record_purchase(  # takes the member's row lock first
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        points_value=quote.points_value if quote else ZERO,
        actor=actor,
    )
    plan = earning.UNSET  # looked up by the earning, unless read with the account's lock below
    if quote is None:
        account, plan = _lock_account_and_plan(member, tiers, day=timezone.localdate(purchase.ordered_at))
    tier_before = account.tier
    coupon = None
    if quote is not None and quote.coupon is not None:
        coupon = coupon_services.redeem_coupon(
            code=coupon_code,
            member=member,
            external_ref=external_ref,
            order_total=quote.subtotal - quote.tier_discount,
            actor=actor,
        ).coupon
    lots_taken: list = []
    if quote is not None and quote.points_used:
        ledger.debit(
            account,
            kind=LedgerEntry.Kind.SPEND,
            points=quote.points_used,
            purchase=purchase,
            reason_code=LedgerEntry.Reason.POINTS_PAYMENT,
            reason_params={"ref": external_ref},
            actor=actor,
            taken=lots_taken,
        )
    paid_from_balance = None
    if quote is not None and quote.stored_value_used:
        # After the member's and the points account's locks, as every posting takes them; the
        # stored-value account is locked last. A short balance raises InsufficientBalance out of
        # this transaction: the purchase, the coupon and the points above roll back with it.
        paid_from_balance = stored_value.pay_from_balance(
            member=member,
            amount=quote.stored_value_used,
            external_ref=stored_value_payment_ref(purchase),
            purchase=purchase,
            store=store,
            actor=actor,
        )
    sv_bonus = -paid_from_balance.bonus_delta if paid_from_balance else ZERO
    earned, changed = earn_for_purchase(
        account,
        member=member,
        purchase=purchase,
        items=purchase.lines,  # the lines just written, as `record_purchase` returns them (no re-read)
        tiers=tiers,
        stored_value_bonus=sv_bonus,
        actor=actor,
        plan=plan,
    )
    posting = PurchasePosting(
        purchase=purchase,
        fingerprint=fingerprint,
        request_digest=request_digest,
        points_earned=earned,
        points_balance=account.balance,
        tier=account.tier,
        tier_before=tier_before,
        tier_changed=changed,
        tier_discount=quote.tier_discount if quote else ZERO,
        coupon_discount=quote.coupon_discount if quote else ZERO,
        coupon=coupon,
        points_used=quote.points_used if quote else 0,
        points_value=quote.points_value if quote else ZERO,
        lots_taken=[[expires_on.isoformat(), points] for expires_on, points in lots_taken],
        stored_value_paid=quote.stored_value_used if paid_from_balance else ZERO,
        stored_value_bonus=sv_bonus,
        stored_value_balance=paid_from_balance.total if paid_from_balance else ZERO,
    )
    _sql.save_account_and_insert_posting(account, posting)  # ledger.save_account + the posting, at once
    return _result(posting, created=True)


def _lock_account_and_plan(member: Member, tiers, *, day: datetime.date):
    """(the member's account, locked, opened on first use; the paid plan in force on `day` as the
    earning rules take it, or `earning.UNSET` to let the earning look it up). On PostgreSQL, when
    plans add points, the account's lock and the plan come in one statement."""
    if connection.vendor == "postgresql" and earning.earning_config().plans_add_points:
        account, row = _sql.account_and_plan_for_update(member.pk, day)
        if account is not None:
            account.tier = next((t for t in tiers if t.pk == account.tier_id), None) or Tier.objects.get(
                pk=account.tier_id
            )
            plan = None
            if row is not None:
                plan_id, name, code, multiplier = row
                display = MembershipPlan(pk=plan_id, name=name, code=code).display_name
                plan = rules.Plan(id=plan_id, name=display, multiplier=multiplier)
            return account, plan
    return ledger.lock_or_open_account(member, tiers), earning.UNSET


def earn_for_purchase(
    account,
    *,
    member: Member,
    purchase: Purchase,
    items,
    tiers,
    stored_value_bonus: Decimal = ZERO,
    actor=None,
    earned_on: datetime.date | None = None,
    plan=earning.UNSET,
) -> tuple[int, bool]:
    """Earn a member's purchase's points and add its spend, on the locked `account` (not saved
    here): the earning rules at the purchase's time, store and channel, on the money paid; then an
    upgrade when the spend crosses a tier's line. Returns (points earned, tier changed). Shared by
    posting a purchase and crediting a walk-in purchase to the member who joined from its receipt."""
    lines = [
        rules.Line(sku=item.sku, line_total=item.line_total, product_id=item.product_id, category_id=item.category_id)
        for item in items
    ]
    preview = earning.points_for_purchase(
        lines=lines,
        # The money paid, stored-value principal included: points never earn points, and the
        # stored value's bonus share (the shop's own money) earns only when managers say so.
        paid=earning.earning_base(paid=purchase.total, stored_value_bonus=stored_value_bonus),
        member=member,
        store_id=purchase.store_id,
        channel=purchase.channel,
        at=purchase.ordered_at,
        tier_id=account.tier_id,  # the tier held when buying (before this purchase's upgrade)
        plan=plan,  # UNSET: the plan in force that day, looked up
    )
    account.lifetime_spend += purchase.total
    if preview.points:
        ledger.credit(
            account,
            kind=LedgerEntry.Kind.EARN,
            points=preview.points,
            earned_on=earned_on or timezone.localdate(purchase.ordered_at),
            purchase=purchase,
            reason_code=LedgerEntry.Reason.PURCHASE,
            reason_params={"ref": purchase.external_ref},
            actor=actor,
        )
    changed = ledger.retier(
        account, tiers=tiers, reason=TierHistory.Reason.PURCHASE, purchase=purchase, upgrade_only=True
    )
    return preview.points, changed


def stored_value_payment_ref(purchase: Purchase) -> str:
    """The external reference of a purchase's stored-value payment: derived from the purchase (one
    payment each), short enough for any purchase reference."""
    return f"purchase-{purchase.pk}:sv"


def _post_walk_in(
    *,
    external_ref,
    ordered_at,
    items,
    store,
    channel,
    payment_method,
    total,
    actor,
    fingerprint,
    priced,
    coupon_code,
    points_to_use,
    sv_asked=ZERO,
    request_digest="",
):
    """A sale to a customer who is not a member: recorded (it counts in the sales figures) at its
    price — no tier discount, no coupon, no points paid or earned, no ledger row."""
    if priced:
        quote = checkout.quote_checkout(
            member=None,
            items=items,
            coupon_code=coupon_code,
            points_to_use=points_to_use,
            tenders=[checkout.Tender(checkout.STORED_VALUE, sv_asked)] if sv_asked else None,
        )
        if coupon_code:
            raise CouponInvalid(quote.coupon.detail, reason=quote.coupon.reason)
        if points_to_use:
            raise ValidationError({"points_to_use": [quote.points_message]})
        if sv_asked:
            raise ValidationError({"tenders": [quote.stored_value_message]})
    purchase = members_services.record_purchase(
        member=None,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        actor=actor,
    )
    posting = PurchasePosting.objects.create(
        purchase=purchase,
        fingerprint=fingerprint,
        request_digest=request_digest,
        points_earned=0,
        points_balance=0,
        tier=None,
        tier_changed=False,
    )
    return _result(posting, created=True)
