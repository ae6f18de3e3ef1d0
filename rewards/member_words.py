"""What a member reads for a ledger row: plain sentences in the member's language.

The staff's wording (`rewards.ledger_reasons.render`) names references and procedures ("Purchase
PO-1042", "Expired: points left from 2025-12-31"); a member needs to know only what happened to
their points or money ("消费获得积分", "积分到期"). Both read the same stored code and parameters;
this module reads no database.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext, gettext_noop, pgettext

from rewards.ledger_reasons import Reason

# Points: by reason code (the row's `reason_code`), then by kind for rows without one.
POINTS_BY_REASON: dict[str, str] = {
    Reason.PURCHASE: gettext_noop("Points earned on a purchase"),
    Reason.REFUND: gettext_noop("Points taken back for a returned purchase"),
    Reason.REDEMPTION: gettext_noop("Points used for a reward: %(reward)s"),
    Reason.REDEMPTION_CANCELLED: gettext_noop("Points returned: reward redemption cancelled"),
    Reason.POINTS_PAYMENT: gettext_noop("Points used to pay for a purchase"),
    Reason.EXPIRY: gettext_noop("Points expired"),
    Reason.EXPIRED_AT_ONCE: gettext_noop("Points expired"),
    Reason.BONUS: gettext_noop("Bonus points: %(bonus)s"),
    Reason.CAMPAIGN: gettext_noop("Points from a promotion"),
    Reason.REFERRAL_WELCOME: gettext_noop("Welcome points for joining through a friend"),
    Reason.REFERRAL_FIRST_PURCHASE: gettext_noop("Points for recommending a friend"),
    Reason.TOP_UP: gettext_noop("Points for topping up your stored value"),
}
POINTS_BY_KIND: dict[str, str] = {
    "earn": gettext_noop("Points received"),
    "spend": gettext_noop("Points used"),
    "expire": gettext_noop("Points expired"),
    "refund_reversal": gettext_noop("Points taken back for a returned purchase"),
    "adjustment": gettext_noop("Points adjusted by the shop"),
    "bonus": gettext_noop("Bonus points"),
    "transfer": gettext_noop("Points transferred"),
    "redemption_return": gettext_noop("Points returned: reward redemption cancelled"),
    "spend_return": gettext_noop("Points returned for a returned purchase"),
}
# Stored value: by the entry's kind (`StoredValueEntry.Kind`).
STORED_VALUE_BY_KIND: dict[str, str] = {
    "top_up": gettext_noop("Top-up"),
    "bonus": gettext_noop("Bonus for topping up"),
    "payment": gettext_noop("Paid for a purchase"),
    "payment_refund": gettext_noop("Returned to your balance for a refund"),
    "cash_out": gettext_noop("Unused balance paid back to you"),
    "adjustment": gettext_noop("Balance adjusted by the shop"),
    "bonus_expiry": gettext_noop("Bonus expired"),
    "gift_sent": gettext_noop("Gift bought for someone"),
    "gift_claimed": gettext_noop("Gift received"),
}


def _bonus_label(kind: str) -> str:
    from rewards.models.earning import ActivityBonus

    return str(dict(ActivityBonus.Kind.choices).get(kind, "")) or kind


def points_text(*, kind: str, reason_code: str, reason_params: Mapping | None) -> str:
    """The member's sentence for a points ledger row, in the active language."""
    params = dict(reason_params) if isinstance(reason_params, Mapping) else {}
    template = POINTS_BY_REASON.get(reason_code)
    if reason_code == Reason.BONUS:
        params["bonus"] = _bonus_label(str(params.get("bonus", "")))
    if template is not None:
        try:
            return gettext(template) % params
        except (KeyError, TypeError, ValueError):
            pass
    if kind == "adjustment" or reason_code == Reason.NOTE:
        return gettext(POINTS_BY_KIND["adjustment"])
    return gettext(POINTS_BY_KIND.get(kind, "")) if kind in POINTS_BY_KIND else pgettext("points", "Change")


def stored_value_text(*, kind: str) -> str:
    """The member's sentence for a stored-value ledger row, in the active language."""
    template = STORED_VALUE_BY_KIND.get(kind)
    return gettext(template) if template else pgettext("stored value", "Change")


def entry_points_text(entry) -> str:
    return points_text(kind=entry.kind, reason_code=entry.reason_code, reason_params=entry.reason_params)
