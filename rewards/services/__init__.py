"""The verbs that change points and tiers. Admin, API, commands and tasks all call these."""

from rewards.services.adjustments import AdjustmentResult, adjust_points
from rewards.services.batch import BatchOutcome, BatchResult, post_purchases_batch
from rewards.services.expiry import ExpiryResult, expire_due_lots
from rewards.services.purchases import PostingResult, post_purchase, preview_points, request_fingerprint
from rewards.services.refunds import RefundResult, refund_purchase

__all__ = [
    "AdjustmentResult",
    "BatchOutcome",
    "BatchResult",
    "ExpiryResult",
    "PostingResult",
    "RefundResult",
    "adjust_points",
    "expire_due_lots",
    "post_purchase",
    "post_purchases_batch",
    "preview_points",
    "refund_purchase",
    "request_fingerprint",
]
