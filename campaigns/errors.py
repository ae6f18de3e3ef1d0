"""Domain errors of `campaigns` (mapped to 409 `{code, detail}` by the API, to messages by the admin)."""

from loyalty_crm.errors import DomainError


class CampaignsError(DomainError):
    code = "campaigns_error"


class InvalidTransition(CampaignsError):
    """The campaign's status does not allow this step (e.g. launching a completed campaign)."""

    code = "invalid_transition"


class CampaignNotEditable(CampaignsError):
    code = "campaign_not_editable"


class OfferNotIssued(DomainError):
    """An automation's coupon could not be issued when its message was prepared (the message fails)."""

    code = "automation_offer_not_issued"


class NothingToRemind(DomainError):
    """A reminder's figure is 0 when its message is prepared (the points were used or the bonus spent
    since): the message is skipped, never sent saying "0"."""

    code = "nothing_to_remind"


class PartnerCodeInvalid(DomainError):
    """The partner code cannot be accepted: `reason` says why (unknown, used, void, expired,
    not_yet_valid). The API answers 409 `coupon_invalid`, like a coupon that cannot be used."""

    code = "coupon_invalid"

    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail)
        self.reason = reason


class PoolEmpty(DomainError):
    code = "partner_codes_exhausted"


class TemplateRequired(CampaignsError):
    """An SMS campaign through a real provider, or a WeChat campaign, has no approved message template."""

    code = "template_required"


# --- member events (campaigns.services.events) ---------------------------------------------------


class EventsError(DomainError):
    code = "events_error"


class SignupClosed(EventsError):
    """The event takes no sign-ups now: its window has not opened or has closed, it has started,
    or it was cancelled."""

    code = "signup_closed"


class NotEligible(EventsError):
    """The member is not among those who may come (tiers, classes, segment, plan holders), or is
    not an active member."""

    code = "not_eligible"


class AlreadyRegistered(EventsError):
    """The member holds a confirmed or waitlisted place already (with another key)."""

    code = "already_registered"


class CancellationClosed(EventsError):
    """The cancellation deadline (or the start) has passed."""

    code = "cancellation_closed"


class RegistrationKeyConflict(EventsError):
    """The idempotency key was used for another member's registration."""

    code = "idempotency_conflict"
