"""A walk-in sale's join link: the receipt of a sale to a customer who is not a member carries a
signed token (`/m/join/?receipt=<token>`) that lets them join within 7 days and have that one
purchase credited to them (the member centre does the crediting; the till only prints it).

The token is the purchase's id signed with the secret key and a salt of its own, stamped with the
time it was made: it cannot be forged or moved to another purchase, and it expires after 7 days.
Once the purchase has a member it is refused (it was credited already).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core import signing
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from members.models import Member, Purchase
from rewards.errors import JoinTokenInvalid

SALT = "rewards.walk-in-join"
VALID_FOR = datetime.timedelta(days=7)
JOIN_PATH = "/m/join/"


def join_token(purchase: Purchase) -> str:
    """The signed token of a walk-in purchase (ValueError for a member's purchase)."""
    if purchase.member_id is not None:
        raise ValueError("Only a walk-in purchase has a join token.")
    return signing.TimestampSigner(salt=SALT).sign(str(purchase.pk))


def join_url(purchase: Purchase) -> str:
    """`/m/join/?receipt=<token>` for the receipt's QR code."""
    return f"{JOIN_PATH}?{urlencode({'receipt': join_token(purchase)})}"


def check_join_token(token: str) -> Purchase:
    """The walk-in purchase a token names. Raises JoinTokenInvalid (with `reason`: `expired`,
    `invalid`, `credited`) for an expired, forged or unknown token, or a purchase that has a
    member already."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        purchase_id = int(signer.unsign(token or "", max_age=VALID_FOR))
    except signing.SignatureExpired:
        raise JoinTokenInvalid(
            _("This receipt's join link has expired (it is valid for 7 days)."), reason="expired"
        ) from None
    except (signing.BadSignature, ValueError):
        raise JoinTokenInvalid(_("This receipt's join link is not valid."), reason="invalid") from None
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        raise JoinTokenInvalid(_("This receipt's join link is not valid."), reason="invalid")
    if purchase.member_id is not None:
        raise JoinTokenInvalid(_("This purchase was already credited to a member."), reason="credited")
    return purchase


@dataclass(frozen=True)
class WalkInCredit:
    purchase: Purchase
    points_earned: int
    points_balance: int
    created: bool  # False when this member had been credited with it before (a retry)


def credit_walk_in_purchase(*, member: Member, token: str, actor=None) -> WalkInCredit:
    """Credit the walk-in purchase a receipt's join token names to `member`, once, within 7 days.

    The purchase becomes the member's (`members.services.claim_walk_in_purchase`) and earns its
    points through the posting's own code path (`purchases.earn_for_purchase`): the member's row
    lock first, then the purchase's, then the points account, as every posting. Points count from
    today (a purchase made before a year-end clearing is not born expired). Idempotent: the same
    member again answers the first credit; an expired, forged or another member's receipt raises
    JoinTokenInvalid (`reason`: expired, invalid, credited).
    """
    from django.db import transaction

    from members import services as members_services
    from rewards import lock_objects, selectors
    from rewards.models import PurchasePosting
    from rewards.services import ledger
    from rewards.services.purchases import earn_for_purchase

    try:
        purchase = check_join_token(token)
    except JoinTokenInvalid as exc:
        if exc.reason != "credited":
            raise
        purchase = Purchase.objects.get(pk=int(signing.TimestampSigner(salt=SALT).unsign(token, max_age=VALID_FOR)))
        if purchase.member_id != member.pk:
            raise
    with transaction.atomic():
        tiers = selectors.tiers()
        lock_objects.member_for_update(member.pk)
        purchase = lock_objects.purchase_for_update(purchase.pk)
        posting = PurchasePosting.objects.filter(purchase=purchase).first()
        if purchase.member_id == member.pk:  # credited before: answer the first credit
            balance = ledger.lock_or_open_account(member, tiers).balance
            return WalkInCredit(
                purchase=purchase,
                points_earned=posting.points_earned if posting else 0,
                points_balance=balance,
                created=False,
            )
        if purchase.member_id is not None:
            raise JoinTokenInvalid(_("This purchase was already credited to a member."), reason="credited")
        members_services.claim_walk_in_purchase(purchase=purchase, member=member, actor=actor)
        account = ledger.lock_or_open_account(member, tiers)
        tier_before = account.tier
        earned, changed = earn_for_purchase(
            account,
            member=member,
            purchase=purchase,
            items=list(purchase.items.all()),
            tiers=tiers,
            actor=actor,
            earned_on=timezone.localdate(),
        )
        ledger.save_account(account)
        # The walk-in's posting now tells what the member earned (refunds reverse from it).
        if posting is not None:
            PurchasePosting.objects.filter(pk=posting.pk).update(
                points_earned=earned,
                points_balance=account.balance,
                tier=account.tier,
                tier_before=tier_before,
                tier_changed=changed,
            )
        return WalkInCredit(purchase=purchase, points_earned=earned, points_balance=account.balance, created=True)
