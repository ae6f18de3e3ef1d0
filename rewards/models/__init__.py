"""Points, tiers, the rules that earn them, paid memberships and the reward catalogue.

One module per concern, each importing what it needs from its siblings at the top:

- `tiers` — `Tier`, `TierHistory`, `TierPolicy`;
- `ledger` — `PointsAccount`, the append-only `LedgerEntry`, `PointsLot`, `BalanceCorrection`,
  `PurchasePosting`, `PurchaseRefund`;
- `earning` — `EarnRule`, `ExpiryPolicy`, `Promotion`, `EarningSettings`, `ActivityBonus`, `BonusAward`,
  `PointsPaymentSettings`;
- `memberships` — `MembershipPlan`, `MembershipSubscription`;
- `care_plans` — `CarePlan`, `CarePlanSale`, `CarePlanClaim`;
- `catalogue` — `CouponTemplate`, `Coupon`, `Reward`, `Redemption`;
- `analytics` — `ProgrammeAssumptions` (the analytics' cost of a point, margin, cost of a message);
- `stored_value` — `StoredValueAccount`, the append-only `StoredValueEntry`, `StoredValueBonusLot`,
  `TopUpRule`, `TopUp`, `StoredValueGift`.

Import from `rewards.models`, which re-exports every public name of the modules below.
"""

from rewards.models.analytics import ProgrammeAssumptions
from rewards.models.care_plans import CarePlan, CarePlanClaim, CarePlanSale
from rewards.models.catalogue import (
    Coupon,
    CouponKind,
    CouponQuerySet,
    CouponTemplate,
    Redemption,
    Reward,
    RewardKind,
)
from rewards.models.earning import (
    EARNING_CONFIG_CACHE_KEY,
    EARNING_CONFIG_CACHE_SECONDS,
    EXPIRY_POLICY_CACHE_KEY,
    EXPIRY_POLICY_CACHE_SECONDS,
    POINTS_PAYMENT_CACHE_KEY,
    POINTS_PAYMENT_CACHE_SECONDS,
    ActivityBonus,
    BonusAward,
    EarningSettings,
    EarnRule,
    ExpiryPolicy,
    PointsPaymentSettings,
    Promotion,
)
from rewards.models.ledger import (
    AppendOnlyQuerySet,
    BalanceCorrection,
    LedgerEntry,
    PointsAccount,
    PointsLot,
    PurchasePosting,
    PurchaseRefund,
)
from rewards.models.memberships import SEED_PLAN_NAMES, MembershipPlan, MembershipSubscription
from rewards.models.stored_value import (
    StoredValueAccount,
    StoredValueBonusLot,
    StoredValueEntry,
    StoredValueGift,
    StoredValueLiability,
    TopUp,
    TopUpRule,
)
from rewards.models.tiers import (
    SEED_TIER_BENEFITS,
    SEED_TIER_NAMES,
    TIER_POLICY_CACHE_KEY,
    TIER_POLICY_CACHE_SECONDS,
    TIERS_CACHE_KEY,
    TIERS_CACHE_SECONDS,
    Tier,
    TierHistory,
    TierPolicy,
)

__all__ = [
    "EARNING_CONFIG_CACHE_KEY",
    "EARNING_CONFIG_CACHE_SECONDS",
    "EXPIRY_POLICY_CACHE_KEY",
    "EXPIRY_POLICY_CACHE_SECONDS",
    "POINTS_PAYMENT_CACHE_KEY",
    "POINTS_PAYMENT_CACHE_SECONDS",
    "SEED_PLAN_NAMES",
    "SEED_TIER_BENEFITS",
    "SEED_TIER_NAMES",
    "TIERS_CACHE_KEY",
    "TIERS_CACHE_SECONDS",
    "TIER_POLICY_CACHE_KEY",
    "TIER_POLICY_CACHE_SECONDS",
    "ActivityBonus",
    "AppendOnlyQuerySet",
    "BalanceCorrection",
    "BonusAward",
    "CarePlan",
    "CarePlanClaim",
    "CarePlanSale",
    "Coupon",
    "CouponKind",
    "CouponQuerySet",
    "CouponTemplate",
    "EarnRule",
    "EarningSettings",
    "ExpiryPolicy",
    "LedgerEntry",
    "MembershipPlan",
    "MembershipSubscription",
    "PointsAccount",
    "PointsLot",
    "PointsPaymentSettings",
    "ProgrammeAssumptions",
    "Promotion",
    "PurchasePosting",
    "PurchaseRefund",
    "Redemption",
    "Reward",
    "RewardKind",
    "StoredValueAccount",
    "StoredValueBonusLot",
    "StoredValueEntry",
    "StoredValueGift",
    "StoredValueLiability",
    "Tier",
    "TierHistory",
    "TierPolicy",
    "TopUp",
    "TopUpRule",
]
