"""Which priority a ticket gets from who the customer is, and why (issue 19).

`choose_priority` is pure (rules and the customer's standing already loaded); `standing_of`
reads the standing through the hooks `members` offers — the tier (`members.loyalty`), the
classification (`members.classification_hook`) and a paid plan in force
(`members.paid_plan_hook`) — so `feedback` never imports `rewards` or `campaigns`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REASON_SEPARATOR = " · "  # as feedback.models.REASON_SEPARATOR (this module is pure: no model import)
PRIORITY_ORDER = ["low", "normal", "high", "urgent"]
DEFAULT_PRIORITY = "normal"


@dataclass(frozen=True)
class Standing:
    """Who the customer is, as the priority rules ask: tier code, classification code, paid plan."""

    tier_code: str = ""
    classification: str = ""
    paid_plan: str = ""  # the plan's name, "" without one


ANONYMOUS = Standing()


@dataclass(frozen=True)
class PriorityChoice:
    priority: str
    reason: str  # the winning rules' names, " · "-joined; "" when no rule matched
    vip: bool


def rule_matches(rule, *, standing: Standing, kind: str) -> bool:
    """Every condition the rule gives holds (a blank condition matches anyone)."""
    if rule.tier_code and rule.tier_code != standing.tier_code:
        return False
    if rule.classification and rule.classification != standing.classification:
        return False
    if rule.paid_plan and not standing.paid_plan:
        return False
    return not (rule.kind and rule.kind != kind)


def choose_priority(rules: Iterable, *, standing: Standing, kind: str) -> PriorityChoice:
    """The highest priority among the active rules that match; the reason names the matching rules
    at that priority (in rule order); VIP when any matching rule is. Without a match: "normal"."""
    matching = [r for r in rules if r.is_active and rule_matches(r, standing=standing, kind=kind)]
    if not matching:
        return PriorityChoice(priority=DEFAULT_PRIORITY, reason="", vip=False)
    top = max(PRIORITY_ORDER.index(r.priority) for r in matching)
    winners = [r for r in matching if PRIORITY_ORDER.index(r.priority) == top]
    names = list(dict.fromkeys(r.name for r in winners))
    return PriorityChoice(
        priority=PRIORITY_ORDER[top], reason=REASON_SEPARATOR.join(names)[:200], vip=any(r.vip for r in matching)
    )


def standing_of(member) -> Standing:
    """The member's standing through the `members` hooks (three queries at most); anonymous
    customers have none."""
    if member is None:
        return ANONYMOUS
    from members import classification_hook, loyalty, paid_plan_hook

    tier = loyalty.snapshot(member).tier
    classification = classification_hook.snapshot(member).classification or ""
    plan = paid_plan_hook.plans_in_force([member]).get(member.pk, "")
    return Standing(tier_code=tier.code, classification=classification, paid_plan=plan)
