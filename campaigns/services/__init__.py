"""The verbs of `campaigns` (see each module)."""

from campaigns.services.campaigns import (
    CampaignSaved,
    OfferRefused,
    cancel_campaign,
    create_campaign,
    create_campaign_with_offer,
    launch_campaign,
    update_campaign,
)
from campaigns.services.dispatch import (
    claim_batch,
    complete_finished_campaigns,
    dispatch_batch,
    prepare_message,
    recover_expired_leases,
    render_for,
    send_prepared,
    start_campaign,
    start_due_campaigns,
)
from campaigns.services.policy import unsubscribe, update_contact_policy

__all__ = [
    "CampaignSaved", "OfferRefused", "cancel_campaign", "claim_batch", "complete_finished_campaigns",
    "create_campaign", "create_campaign_with_offer",
    "dispatch_batch", "launch_campaign", "prepare_message", "recover_expired_leases", "render_for", "send_prepared",
    "start_campaign", "start_due_campaigns", "unsubscribe", "update_campaign", "update_contact_policy",
]  # fmt: skip
