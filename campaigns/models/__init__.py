"""Segments, classification, campaigns and the contact policy, referral, partners, automations and results.

`campaigns` reads `members` and `rewards` and changes points only through `rewards.services`
(docs/design.md: members ← rewards ← campaigns).

The models live in modules by concern; this package re-exports every public name, so
`from campaigns.models import X` works unchanged.
"""

from campaigns.models.automations import Automation, AutomationOccurrence
from campaigns.models.classification import Classification, ClassificationPolicy, ClassificationRun, MemberScore
from campaigns.models.dispatch import (
    Campaign,
    CampaignChannel,
    CampaignOccurrence,
    CampaignQuerySet,
    CampaignStep,
    Channel,
    ContactPolicy,
    EarlyReceipt,
    OutboxMessage,
    Repeat,
    SkipReason,
    SmsLog,
    WeChatLog,
    Weekday,
)
from campaigns.models.events import Event, EventInvitation, EventRegistration
from campaigns.models.partners import Partner, PartnerCode, PartnerCodePool, PartnerOffer, PartnerOfferIssue
from campaigns.models.referral import ReferralProgramme, ReferralReward, Referrer
from campaigns.models.results import CampaignKpiTarget, CampaignOffer, CampaignPilot, MessageEngagement, OfferGrant
from campaigns.models.segments import Segment
from campaigns.models.templates import MessageTemplate, TemplateChannel, TemplatePurpose

__all__ = [
    "Automation",
    "AutomationOccurrence",
    "Campaign",
    "CampaignChannel",
    "CampaignKpiTarget",
    "CampaignOccurrence",
    "CampaignOffer",
    "CampaignPilot",
    "CampaignQuerySet",
    "CampaignStep",
    "Channel",
    "Classification",
    "ClassificationPolicy",
    "ClassificationRun",
    "ContactPolicy",
    "EarlyReceipt",
    "Event",
    "EventInvitation",
    "EventRegistration",
    "MemberScore",
    "MessageEngagement",
    "MessageTemplate",
    "OfferGrant",
    "OutboxMessage",
    "Partner",
    "PartnerCode",
    "PartnerCodePool",
    "PartnerOffer",
    "PartnerOfferIssue",
    "ReferralProgramme",
    "ReferralReward",
    "Referrer",
    "Repeat",
    "Segment",
    "SkipReason",
    "SmsLog",
    "TemplateChannel",
    "TemplatePurpose",
    "WeChatLog",
    "Weekday",
]
