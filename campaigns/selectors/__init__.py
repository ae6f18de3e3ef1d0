"""The questions of `campaigns` (reads only; the writers are in `campaigns/services/`).

One module per concern: campaigns and dispatch (results, audiences, consent expressions, the
contact policy), referrals, partners, offers. The names are re-exported here, so callers write
`from campaigns import selectors` and `selectors.audience_members(...)`.
"""

from campaigns.selectors.campaigns import (
    API_SKIP_REASONS,
    CampaignResults,
    audience_members,
    best_channels,
    campaign_list,
    campaign_results,
    consent_granted,
    consent_topic,
    contact_policy,
    due_work_exists,
    error_counts,
    ever_granted,
    handed_to_channel_on,
    recent_contacts,
    results_by_step,
    results_for,
)
from campaigns.selectors.dispatch import (
    automation_step_ids,
    batch_rows,
    granted_consents,
    once_granted,
    recent_contact_counts,
)
from campaigns.selectors.events import attended_member_ids
from campaigns.selectors.offers import offer_of, offer_points, offers_of
from campaigns.selectors.partners import (
    PartnerMonth,
    active_offers,
    may_have_offers,
    months_back,
    offers_for,
    partner_coupons,
    partner_report,
)
from campaigns.selectors.referrals import ReferredMember, first_purchase, referrals_of, referrer_counts

__all__ = [
    "API_SKIP_REASONS",
    "CampaignResults",
    "PartnerMonth",
    "ReferredMember",
    "active_offers",
    "attended_member_ids",
    "audience_members",
    "automation_step_ids",
    "batch_rows",
    "best_channels",
    "campaign_list",
    "campaign_results",
    "consent_granted",
    "consent_topic",
    "contact_policy",
    "due_work_exists",
    "error_counts",
    "ever_granted",
    "first_purchase",
    "granted_consents",
    "handed_to_channel_on",
    "may_have_offers",
    "months_back",
    "offer_of",
    "offer_points",
    "offers_for",
    "offers_of",
    "once_granted",
    "partner_coupons",
    "partner_report",
    "recent_contact_counts",
    "recent_contacts",
    "referrals_of",
    "referrer_counts",
    "results_by_step",
    "results_for",
]  # fmt: skip
