"""Back office for points, tiers, earning, paid plans and the reward catalogue.

Money-like rows are read-only here; changes go through `rewards.services`. A package by concern:
`points` (tiers, accounts, ledger, lots, history), `earning` (expiry, promotions, settings,
bonuses), `memberships`, `tier_policies` and `catalogue` (rewards, coupons, redemptions and the
counter's "Redeem a reward" page), `stored_value` (储值卡: accounts, ledger, top-ups, rules, gifts,
the top-up, adjustment and cash-out pages, the liability report), `care_plans` (plans, plans sold,
claims and the care plan report), `analytics` (the programme analytics' assumptions).
"""

from rewards.admin import (  # noqa: F401  (registers the admins)
    analytics,
    care_plans,
    catalogue,
    earning,
    memberships,
    points,
    stored_value,
    tier_policies,
)
