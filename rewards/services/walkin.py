"""A walk-in sale's join link: the receipt of a sale to a customer who is not a member carries a
signed token (`/m/join/?receipt=<token>`) that lets them join within 7 days and have that one
purchase credited to them (the member centre does the crediting; the till only prints it).

The token is the purchase's id signed with the secret key and a salt of its own, stamped with the
time it was made: it cannot be forged or moved to another purchase, and it expires after 7 days.
Once the purchase has a member it is refused (it was credited already).
"""

from __future__ import annotations

import datetime

from django.core import signing
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from members.models import Purchase
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
