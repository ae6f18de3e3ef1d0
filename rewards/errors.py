"""Domain errors of `rewards`; the API maps them to 409 `{code, detail}` (loyalty_crm.api.exceptions)."""

from loyalty_crm.errors import DomainError


class RewardsError(DomainError):
    code = "rewards_error"


class IdempotencyConflict(RewardsError):
    """The external reference was used before with a different request."""

    code = "idempotency_conflict"


class InsufficientPoints(RewardsError):
    code = "insufficient_points"


class AlreadyRefunded(RewardsError):
    code = "already_refunded"


class PlanNotOnSale(RewardsError):
    code = "plan_not_on_sale"


class MembershipNotActive(RewardsError):
    code = "membership_not_active"


class BonusNotAvailable(RewardsError):
    code = "bonus_not_available"
