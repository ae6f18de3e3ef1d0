"""Questions about campaign offers (the writers: `campaigns.services.offers`)."""

from __future__ import annotations

from campaigns.models import CampaignOffer


def offer_of(campaign_id: int) -> CampaignOffer | None:
    return CampaignOffer.objects.select_related("coupon_template").filter(campaign_id=campaign_id).first()


def offer_points(campaign_id: int) -> int:
    offer = offer_of(campaign_id)
    return offer.points if offer is not None and offer.kind == CampaignOffer.Kind.POINTS else 0
