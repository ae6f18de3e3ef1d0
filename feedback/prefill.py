"""Feedback about one purchase, from the member centre: the public form pre-filled by a signed value.

The member centre links to `/feedback/?purchase=<token>`; the token is signed here and names the
purchase and its member, so the form can fill in the member number, the order reference and the
store without trusting a raw id from the URL: a token for another member's purchase cannot be
made, and a changed one fails its signature. The token carries ids only (no personal data).
"""

from __future__ import annotations

from django.core import signing

from members.models import Member, Purchase

SALT = "feedback.purchase-prefill"
MAX_AGE = 30 * 24 * 60 * 60  # a link from the member centre stays good for 30 days


def purchase_token(purchase: Purchase) -> str:
    return signing.dumps({"p": purchase.pk, "m": purchase.member_id}, salt=SALT, compress=True)


def purchase_from_token(token: str) -> Purchase | None:
    """The purchase a valid, unexpired token names, still its member's; None otherwise."""
    if not token or len(token) > 200:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int) or not isinstance(data.get("m"), int):
        return None
    return (
        Purchase.objects.select_related("member", "store")
        .filter(pk=data["p"], member_id=data["m"])
        .exclude(member__status=Member.Status.ERASED)
        .first()
    )
