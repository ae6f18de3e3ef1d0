"""Domain errors of `campaigns` (mapped to 409 `{code, detail}` by the API, to messages by the admin)."""

from loyalty_crm.errors import DomainError


class CampaignsError(DomainError):
    code = "campaigns_error"


class InvalidTransition(CampaignsError):
    """The campaign's status does not allow this step (e.g. launching a completed campaign)."""

    code = "invalid_transition"


class CampaignNotEditable(CampaignsError):
    code = "campaign_not_editable"
