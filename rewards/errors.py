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


class RefundExceedsPurchase(RewardsError):
    """The amount asked for is more than what is left to refund of the purchase (a business
    conflict, not a malformed request: the same amount fits until another refund takes the rest)."""

    code = "refund_exceeds_purchase"


class PlanNotOnSale(RewardsError):
    code = "plan_not_on_sale"


class MembershipNotActive(RewardsError):
    code = "membership_not_active"


class BonusNotAvailable(RewardsError):
    code = "bonus_not_available"


class OutOfStock(RewardsError):
    code = "out_of_stock"


class RewardUnavailable(RewardsError):
    """Inactive, outside its validity window, or above the member's tier."""

    code = "reward_unavailable"


class RewardLimitReached(RewardsError):
    code = "reward_limit_reached"


class AlreadyCancelled(RewardsError):
    code = "already_cancelled"


class CouponUsed(RewardsError):
    """A redemption whose coupon was already used cannot be cancelled; a used coupon cannot be voided."""

    code = "coupon_used"


class CouponLimitReached(RewardsError):
    code = "coupon_limit_reached"


class CouponTemplateUnavailable(RewardsError):
    code = "coupon_template_unavailable"


class CouponInvalid(RewardsError):
    """The code cannot be used: `reason` says why (unknown, not_yours, used, void, expired,
    not_yet_valid, below_min_spend)."""

    code = "coupon_invalid"

    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail)
        self.reason = reason


class InsufficientBalance(RewardsError):
    """The member's stored value (principal and bonus together) is less than the amount asked for."""

    code = "insufficient_balance"


class TopUpRuleUnavailable(RewardsError):
    """The top-up rule is inactive, outside its dates, above the amount paid, or already used by a
    member it allows only once."""

    code = "top_up_rule_unavailable"


class PaymentRefundExceeded(RewardsError):
    """More than what is left to refund of a stored-value payment."""

    code = "refund_exceeds_payment"


class GiftUnavailable(RewardsError):
    """The gift cannot be claimed: `gift_unknown` (no such code), `gift_already_claimed` (claimed
    once already: a second claim is refused), `gift_not_yours` (bought for another phone number)."""

    code = "gift_unknown"


class JoinTokenInvalid(RewardsError):
    """A walk-in receipt's join token that is expired, forged or already used; `reason` says which
    (`expired`, `invalid`, `credited`)."""

    code = "join_token_invalid"

    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail)
        self.reason = reason


# --- care plans (rewards.services.care_plans) ---


class CarePlanNotOnSale(RewardsError):
    code = "plan_not_on_sale"


class ProductNotCovered(RewardsError):
    """The purchase line's product is not one the plan may be sold with (or claimed for)."""

    code = "product_not_covered"


class SaleWindowClosed(RewardsError):
    """The plan may be sold only up to its number of days after the purchase."""

    code = "sale_window_closed"


class AlreadyCovered(RewardsError):
    """The purchase line already carries this plan (sold under another key)."""

    code = "already_covered"


class PlanNotStarted(RewardsError):
    code = "plan_not_started"


class PlanExpired(RewardsError):
    code = "plan_expired"


class NoClaimsLeft(RewardsError):
    code = "no_claims_left"


class PurchaseRequired(RewardsError):
    """The plan's claims need the original purchase, and the covered line was returned."""

    code = "purchase_required"


class ClaimNotOpen(RewardsError):
    code = "claim_not_open"


class CarePlanClaimed(RewardsError):
    """A sold plan with a claim (open or settled) can no longer be cancelled and refunded."""

    code = "care_plan_claimed"


class CarePlanCancelled(RewardsError):
    """The sold plan was cancelled and refunded: it covers nothing more."""

    code = "care_plan_cancelled"


class ReplacementUnavailable(RewardsError):
    """The replacement asked for cannot be given (no coupon set on the plan, no product on the line)."""

    code = "replacement_unavailable"
