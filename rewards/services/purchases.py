"""Posting purchases: record them in `members`, earn points, re-evaluate the tier — one transaction."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import services as members_services
from members.models import Member, Purchase, Store
from members.services import DuplicatePurchase, PurchaseLine
from rewards import _sql, rules, selectors
from rewards.errors import IdempotencyConflict
from rewards.models import LedgerEntry, PurchasePosting, Tier, TierHistory
from rewards.services import earning, ledger


@dataclass(frozen=True)
class PostingResult:
    purchase: Purchase
    points_earned: int
    points_balance: int
    tier: Tier
    tier_changed: bool
    created: bool  # False when this answers a retry from the stored first answer


def _norm_money(value) -> str | None:
    if value is None:
        return None
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return str(value)


def request_fingerprint(
    *,
    member: Member,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None,
    channel: str,
    payment_method: str,
    total,
) -> str:
    """A hash of the normalised request: equal bodies (in any key or line order) hash equal."""
    body = {
        "member": member.member_no,
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
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _posting_for(external_ref: str) -> PurchasePosting | None:
    # A new purchase (the common case) costs one small query in plain SQL; only a retry loads
    # the stored posting with its purchase, member and tier.
    posting_id = _sql.posting_id_for_ref(external_ref)
    if posting_id is None:
        return None
    return PurchasePosting.objects.select_related("purchase", "purchase__member", "tier").get(pk=posting_id)


def _replay(posting: PurchasePosting, fingerprint: str) -> PostingResult:
    if posting.fingerprint != fingerprint:
        raise IdempotencyConflict(
            _("The external reference “%(ref)s” was already used for a different purchase.")
            % {"ref": posting.purchase.external_ref}
        )
    return PostingResult(
        purchase=posting.purchase,
        points_earned=posting.points_earned,
        points_balance=posting.points_balance,
        tier=posting.tier,
        tier_changed=posting.tier_changed,
        created=False,
    )


@transaction.atomic
def post_purchase(
    *,
    member: Member,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None = None,
    channel: str = "store",
    payment_method: str = "",
    total: Decimal | None = None,
    actor=None,
) -> PostingResult:
    """Record a purchase, earn its points, add its spend and upgrade the tier, all or nothing.

    Idempotent on `external_ref`: the same request again answers the first result (nothing is
    written); a different request with that reference raises IdempotencyConflict. Concurrent
    identical requests queue on the member's row lock; all but the first then meet the unique
    external reference and answer from the stored posting.
    """
    external_ref = (external_ref or "").strip()
    fingerprint = request_fingerprint(
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
    )
    posting = _posting_for(external_ref) if external_ref else None
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
        )
    except DuplicatePurchase:
        posting = _posting_for(external_ref)
        if posting is None:
            raise IdempotencyConflict(
                _("The purchase “%(ref)s” was recorded without points (e.g. imported); it cannot be posted again.")
                % {"ref": external_ref}
            ) from None
        return _replay(posting, fingerprint)


def _post_new(*, member, external_ref, ordered_at, items, store, channel, payment_method, total, actor, fingerprint):
    purchase = members_services.record_purchase(  # takes the member's row lock first
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        actor=actor,
    )
    tiers = selectors.tiers()
    account = ledger.lock_or_open_account(member, tiers)
    lines = [  # the lines just written, as `record_purchase` returns them (no re-read)
        rules.Line(sku=item.sku, line_total=item.line_total, product_id=item.product_id, category_id=item.category_id)
        for item in purchase.lines
    ]
    preview = earning.points_for_purchase(
        lines=lines,
        paid=purchase.total,
        member=member,
        store_id=purchase.store_id,
        channel=purchase.channel,
        at=purchase.ordered_at,
        tier_id=account.tier_id,  # the tier held when buying (before this purchase's upgrade)
    )
    account.lifetime_spend += purchase.total
    if preview.points:
        ledger.credit(
            account,
            kind=LedgerEntry.Kind.EARN,
            points=preview.points,
            earned_on=timezone.localdate(ordered_at),
            purchase=purchase,
            reason_code=LedgerEntry.Reason.PURCHASE,
            reason_params={"ref": external_ref},
            actor=actor,
        )
    changed = ledger.retier(
        account, tiers=tiers, reason=TierHistory.Reason.PURCHASE, purchase=purchase, upgrade_only=True
    )
    ledger.save_account(account)
    PurchasePosting.objects.create(
        purchase=purchase,
        fingerprint=fingerprint,
        points_earned=preview.points,
        points_balance=account.balance,
        tier=account.tier,
        tier_changed=changed,
    )
    return PostingResult(
        purchase=purchase,
        points_earned=preview.points,
        points_balance=account.balance,
        tier=account.tier,
        tier_changed=changed,
        created=True,
    )
