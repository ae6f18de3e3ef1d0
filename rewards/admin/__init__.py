"""Back office for points, tiers, earning, paid plans and the reward catalogue.

Money-like rows are read-only here; changes go through `rewards.services`. A package by concern:
`points` (tiers, accounts, ledger, lots, history), `earning` (expiry, promotions, settings,
bonuses), `memberships`, `tier_policies` and `catalogue` (rewards, coupons, redemptions and the
counter's "Redeem a reward" page).
"""

from rewards.admin import catalogue, earning, memberships, points, tier_policies  # noqa: F401  (registers the admins)
