"""Care plans at the till: the plans each basket line may carry (shown with their price beside the
quote), the ones the cashier ticked (checked here before anything is posted), and their sale in the
confirm's own transaction (`rewards.services.care_plans.sell_care_plans_for_purchase`).

The page sends `care_plans: [{line, plan}]` (the basket's line number from 0, the plan's id). The
plan's price is taken with the sale (shown as its own figure and in "to take in all"); it is not a
purchase line, so it earns no points and is not discounted by tier or coupon.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from rewards import selectors_care_plans
from rewards.services.care_plans import TillCarePlan

MAX_CHOICES = 100


def _money(value) -> str:
    return f"{Decimal(value or 0):.2f}"


def offers(basket) -> dict[int, list]:
    """The plans on sale each line's product may carry, keyed by line number (none for a walk-in:
    plans are sold to members)."""
    if basket.member is None:
        return {}
    by_product = selectors_care_plans.offers_for_products([line.product for line in basket.lines])
    return {index: by_product.get(line.product.pk, []) for index, line in enumerate(basket.lines)}


def chosen(data: dict, basket, line_offers: dict[int, list] | None = None) -> list[TillCarePlan]:
    """The plans ticked, each checked against the line's offers; ValidationError with a message for
    staff otherwise."""
    raw = data.get("care_plans") or []
    if not raw:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_CHOICES or not all(isinstance(item, dict) for item in raw):
        raise ValidationError(_("The care plans could not be read; reload the page."))
    if basket.member is None:
        raise ValidationError(_("Care plans are sold to members only: choose a member."))
    line_offers = offers(basket) if line_offers is None else line_offers
    picked, seen = [], set()
    for item in raw:
        try:
            line, plan_id = int(item.get("line")), int(item.get("plan"))
        except (TypeError, ValueError):
            raise ValidationError(_("The care plans could not be read; reload the page.")) from None
        plan = next((plan for plan in line_offers.get(line, []) if plan.pk == plan_id), None)
        if plan is None:
            raise ValidationError(
                _("Line %(line)d: that care plan is not offered for this product.") % {"line": line + 1}
            )
        if (line, plan_id) not in seen:
            seen.add((line, plan_id))
            picked.append(TillCarePlan(line=line, plan=plan))
    return picked


def quote_json(data: dict, basket, quote) -> dict:
    """The care-plan part of the quote: each line's offers, the plans ticked, their total and what
    to take in all (the quote's amount due plus the plans)."""
    line_offers = offers(basket)
    picked = chosen(data, basket, line_offers)
    total = sum((choice.plan.price for choice in picked), Decimal("0.00"))
    return {
        "care_plan_offers": [
            {
                "line": index,
                "sku": basket.lines[index].product.sku,
                "product": basket.lines[index].product.name,
                "plans": [
                    {"id": plan.pk, "name": plan.name, "price": _money(plan.price), "coverage": plan.coverage}
                    for plan in plans
                ],
            }
            for index, plans in sorted(line_offers.items())
            if plans
        ],
        "care_plans": [{"line": choice.line, "plan": choice.plan.pk} for choice in picked],
        "care_plans_total": _money(total),
        "amount_to_take": _money(quote.amount_due + total),
    }
