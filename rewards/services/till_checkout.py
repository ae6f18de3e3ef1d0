"""The till's sale as one verb: the purchase posted at member pricing and the care plans chosen for
its lines sold with it, in one transaction (docs/rules/care-plans.md, "At the till").

`checkout_sale` is what the till's confirm calls; it owns the composition so that every front that
records a counter sale with care plans does it the same way:
1. `post_purchase` with member pricing (tier discount, coupon, points and stored value as quoted),
   on the sale's key as `external_ref`;
2. `sell_care_plans_for_purchase` for the chosen plans, on keys `<key>-CARE-<line>-<plan>`.
Both run in the same transaction: a plan that cannot be sold (not covered, not on sale, …) rolls
back the posting too, so nothing of the sale is recorded. Idempotent on the key: the same sale again
answers the first purchase and the plans sold with it, writing nothing; the same key with another
basket is an IdempotencyConflict.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from members.models import Member, Purchase, Store
from members.services import PurchaseLine
from rewards.models import CarePlanSale
from rewards.services.care_plans import TillCarePlan, sell_care_plans_for_purchase
from rewards.services.purchases import PostingResult, post_purchase


@dataclass(frozen=True)
class CheckoutResult:
    posting: PostingResult
    care_plan_sales: list[CarePlanSale] = field(default_factory=list)

    @property
    def purchase(self):
        return self.posting.purchase

    @property
    def created(self) -> bool:
        return self.posting.created


def checkout_sale(
    *,
    member: Member | None,
    key: str,
    items: list[PurchaseLine],
    store: Store | None = None,
    payment_method: str = "",
    coupon_code: str | None = None,
    points_to_use: int = 0,
    tenders=None,
    care_plans: list[TillCarePlan] | None = None,
    ordered_at: datetime.datetime | None = None,
    channel: str = "store",
    actor=None,
) -> CheckoutResult:
    """Record a counter sale and sell its care plans, all or nothing (see the module docstring).
    Raises what `post_purchase` and `sell_care_plan` raise; nothing is written then.

    The sale is timed `ordered_at` (the till passes the time it confirms, having looked the key up
    itself); when None, now — or, for a key already recorded, the first sale's time, so the same
    basket again is the same request (a different basket on that key is an IdempotencyConflict, as
    for any posting)."""
    if ordered_at is None:
        first = Purchase.objects.filter(external_ref=key).values_list("ordered_at", flat=True).first()
        ordered_at = first or timezone.now()
    posting = {
        "member": member,
        "external_ref": key,
        "ordered_at": ordered_at,
        "items": items,
        "store": store,
        "channel": channel,
        "payment_method": payment_method,
        "coupon_code": coupon_code or None,
        "points_to_use": points_to_use,
        "tenders": tenders,
        "apply_member_pricing": True,
        "actor": actor,
    }
    if not care_plans:  # `post_purchase` is one transaction itself: no savepoint to pay for
        return CheckoutResult(posting=post_purchase(**posting))
    with transaction.atomic():
        result = post_purchase(**posting)
        sales = sell_care_plans_for_purchase(
            purchase=result.purchase, chosen=list(care_plans), key_prefix=key, actor=actor
        )
    return CheckoutResult(posting=result, care_plan_sales=sales)
