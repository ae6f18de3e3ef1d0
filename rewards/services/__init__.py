"""The verbs that change points and tiers. Admin, API, commands and tasks all call these."""

from rewards.services.adjustments import AdjustmentResult, adjust_points
from rewards.services.batch import BatchOutcome, BatchResult, post_purchases_batch, post_purchases_each
from rewards.services.bonuses import BonusResult, award_birthday_bonuses, award_bonus
from rewards.services.care_plans import (
    CarePlanClaimResult,
    CarePlanSaleResult,
    claim_care_plan,
    reject_care_plan_claim,
    sell_care_plan,
    settle_care_plan_claim,
)
from rewards.services.earning import points_for_purchase, preview_points
from rewards.services.expiry import ExpiryResult, expire_due_lots
from rewards.services.memberships import (
    MembershipResult,
    buy_membership,
    cancel_membership,
    process_memberships,
)
from rewards.services.purchases import (
    PostingResult,
    answer_retry,
    answer_same_request,
    post_purchase,
    request_digest,
    request_fingerprint,
)
from rewards.services.refunds import RefundResult, ReturnQuote, quote_return, refund_purchase

__all__ = [
    "AdjustmentResult",
    "BatchOutcome",
    "BatchResult",
    "BonusResult",
    "CarePlanClaimResult",
    "CarePlanSaleResult",
    "ExpiryResult",
    "MembershipResult",
    "PostingResult",
    "RefundResult",
    "ReturnQuote",
    "adjust_points",
    "answer_retry",
    "answer_same_request",
    "award_birthday_bonuses",
    "award_bonus",
    "buy_membership",
    "cancel_membership",
    "claim_care_plan",
    "expire_due_lots",
    "points_for_purchase",
    "post_purchase",
    "post_purchases_batch",
    "post_purchases_each",
    "preview_points",
    "process_memberships",
    "quote_return",
    "refund_purchase",
    "reject_care_plan_claim",
    "request_digest",
    "request_fingerprint",
    "sell_care_plan",
    "settle_care_plan_claim",
]
