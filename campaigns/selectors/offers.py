"""Questions about campaign offers (the writers: `campaigns.services.offers`)."""

from __future__ import annotations

from campaigns.models import CampaignOffer


def offer_of(campaign_id: int) -> CampaignOffer | None:
    return CampaignOffer.objects.select_related("coupon_template").filter(campaign_id=campaign_id).first()


def offer_points(campaign_id: int) -> int:
    offer = offer_of(campaign_id)
    return offer.points if offer is not None and offer.kind == CampaignOffer.Kind.POINTS else 0


def offers_of(campaign_ids) -> dict[int, CampaignOffer | None]:
    """The offer of each campaign (None when it has none), in one query (a dispatch batch)."""
    found = {
        offer.campaign_id: offer
        for offer in CampaignOffer.objects.select_related("coupon_template").filter(campaign_id__in=set(campaign_ids))
    }
    return {campaign_id: found.get(campaign_id) for campaign_id in set(campaign_ids)}
