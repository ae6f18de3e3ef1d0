"""`campaigns` listening to `members`: referral rewards and partner offers on posted purchases.

`members.signals.purchase_recorded` (one purchase) and `purchases_recorded` (a bulk recording:
imports, batch posting) are sent inside the posting's transaction; these handlers only
schedule the work for after it commits (`robust`: an error is logged, never raised to the caller),
so a failing reward or offer never undoes or fails a posting, and a rolled-back posting rewards
nothing. The rules live in campaigns.services.referrals and campaigns.services.partners.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("campaigns.referrals")


def on_purchase_recorded(sender, *, purchase, actor=None, **kwargs):
    purchase_id, member_id = purchase.pk, purchase.member_id
    total, ordered_at = purchase.total, purchase.ordered_at
    has_referrer = purchase.member.referred_by_id is not None

    def reward():
        from campaigns.services.referrals import reward_referral
        from members.models import Member

        reward_referral(member=Member(pk=member_id), actor=actor)

    def offers():
        from campaigns.selectors.partners import may_have_offers
        from campaigns.services.partners import issue_partner_offers
        from members.models import Purchase

        if not may_have_offers(total=total, at=ordered_at):
            return  # the common case: one small query, no purchase re-read
        issue_partner_offers(purchase=Purchase(pk=purchase_id), actor=actor)

    if has_referrer:
        transaction.on_commit(reward, robust=True)
    transaction.on_commit(offers, robust=True)


def on_purchases_recorded(sender, *, purchases, actor=None, **kwargs):
    """The same for purchases recorded in bulk, in a fixed number of queries: the referred
    members are found with one query, and one after-commit callback each rewards them and gives
    the partner offers (loaded once; only qualifying purchases are looked at)."""
    from django.db.models import F

    from loyalty_crm.bulk import AnyOf
    from members.models import Member

    if not purchases:
        return
    purchase_ids = [purchase.pk for purchase in purchases]
    member_ids = sorted({purchase.member_id for purchase in purchases})
    referred: list[int] = []
    for start in range(0, len(member_ids), 10_000):
        referred += Member.objects.filter(
            AnyOf(F("pk"), member_ids[start : start + 10_000]), referred_by__isnull=False
        ).values_list("pk", flat=True)

    def rewards():
        from campaigns.services.referrals import reward_referral

        for member_id in sorted(referred):
            try:
                reward_referral(member=Member(pk=member_id), actor=actor)
            except Exception:
                logger.exception("Referral reward failed for member %s", member_id)

    def offers():
        from campaigns.services.partners import issue_partner_offers_for

        issue_partner_offers_for(purchase_ids=purchase_ids, actor=actor)

    if referred:
        transaction.on_commit(rewards, robust=True)
    transaction.on_commit(offers, robust=True)
