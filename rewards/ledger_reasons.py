"""Why a ledger row exists, stored as a code and its parameters, rendered in the reader's language.

A writer records `reason_code` (one of `Reason`) and `reason_params` (the values the sentence
names: a purchase's reference, a reward's name, a date), never a translated sentence: a row posted
while the back office spoke Chinese reads in English for an English reader and the other way
round. The `reason` column keeps only what a person typed (a manual adjustment's reason, the note
given when cancelling a redemption): it is shown as it is, after the sentence when there is one.

`render` is the one place that turns a row's reason into text, for the admin, the API, exports
and the member pages. It reads no database: only the row's own columns and gettext.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext, gettext_lazy, gettext_noop


class Reason(models.TextChoices):
    """Every reason a ledger row can have; a new writer adds its code here and a template below."""

    NOTE = "note", gettext_lazy("Note typed by staff")
    PURCHASE = "purchase", gettext_lazy("Purchase")
    REFUND = "refund", gettext_lazy("Refund")
    REDEMPTION = "redemption", gettext_lazy("Redemption")
    REDEMPTION_CANCELLED = "redemption_cancelled", gettext_lazy("Redemption cancelled")
    POINTS_PAYMENT = "points_payment", gettext_lazy("Paid with points")
    EXPIRY = "expiry", gettext_lazy("Expiry")
    EXPIRED_AT_ONCE = "expired_at_once", gettext_lazy("Expired when recorded")
    BONUS = "bonus", gettext_lazy("Activity bonus")
    CAMPAIGN = "campaign", gettext_lazy("Campaign offer")
    REFERRAL_WELCOME = "referral_welcome", gettext_lazy("Referral welcome")
    REFERRAL_FIRST_PURCHASE = "referral_first_purchase", gettext_lazy("Referral first purchase")
    TOP_UP = "top_up", gettext_lazy("Stored-value top-up")
    EVENT_SEAT = "event_seat", gettext_lazy("Event seat paid with points")
    EVENT_SEAT_RETURNED = "event_seat_returned", gettext_lazy("Event seat points given back")


# The sentence of each code (msgids of the project catalogue), with the parameters it names.
TEMPLATES: dict[str, str] = {
    Reason.PURCHASE: gettext_noop("Purchase %(ref)s"),
    Reason.REFUND: gettext_noop("Refund %(ref)s of purchase %(purchase)s"),
    Reason.REDEMPTION: gettext_noop("Redeemed %(quantity)d × %(reward)s"),
    Reason.REDEMPTION_CANCELLED: gettext_noop("Redemption of %(reward)s cancelled"),
    # Points that paid part of a purchase at the till (`ref`: the purchase's reference).
    Reason.POINTS_PAYMENT: gettext_noop("Paid with points: purchase %(ref)s"),
    # `date` is the lot's expiry date; the nightly expiry writes these rows in SQL.
    Reason.EXPIRY: gettext_noop("Expired: points left from %(date)s"),
    Reason.EXPIRED_AT_ONCE: gettext_noop("Expired on %(date)s, before it was recorded"),
    # `bonus` is the activity bonus's kind (`ActivityBonus.Kind`), rendered as its label.
    Reason.BONUS: gettext_noop("Bonus: %(bonus)s"),
    Reason.CAMPAIGN: gettext_noop("Campaign: %(name)s"),
    Reason.REFERRAL_WELCOME: gettext_noop("Referral: welcome (referred by %(member_no)s)"),
    Reason.REFERRAL_FIRST_PURCHASE: gettext_noop("Referral: %(member_no)s made a first purchase"),
    # Points a top-up rule gives (`ref`: the top-up's external reference; rewards.services.stored_value).
    Reason.TOP_UP: gettext_noop("Top-up %(ref)s"),
    # A member event's seat paid with points, and given back when the sign-up is cancelled in time
    # (`event`: the event's title; campaigns.services.events through rewards.services.programme_spend).
    Reason.EVENT_SEAT: gettext_noop("Event seat: %(event)s"),
    Reason.EVENT_SEAT_RETURNED: gettext_noop("Event seat given back: %(event)s"),
}
# A bonus given for a reference (a referred member, an event) names it after the bonus.
BONUS_WITH_REFERENCE = gettext_noop("Bonus: %(bonus)s (%(reference)s)")
# A sentence followed by what a person typed (the note given when cancelling a redemption).
WITH_NOTE = gettext_noop("%(reason)s: %(note)s")


def _bonus_label(kind: str) -> str:
    from rewards.models.earning import ActivityBonus  # the models import this module

    return str(dict(ActivityBonus.Kind.choices).get(kind, kind))


def sentence(code: str, params: Mapping) -> str | None:
    """The sentence of `code` with `params`, in the active language; None for an unknown code or
    parameters that do not fit its template (a row written by a later version, say)."""
    template = TEMPLATES.get(code)
    if template is None or not isinstance(params, Mapping):
        return None
    values = dict(params)
    if code == Reason.BONUS:
        values["bonus"] = _bonus_label(str(values.get("bonus", "")))
        if values.get("reference"):
            template = BONUS_WITH_REFERENCE
    try:
        return gettext(template) % values
    except (KeyError, TypeError, ValueError):
        return None


def with_note(text: str, note: str) -> str:
    """`text` (a sentence in the active language) followed by what a person typed, if anything."""
    if text and note:
        return gettext(WITH_NOTE) % {"reason": text, "note": note}
    return text or note


def render(code: str, params: Mapping | None = None, note: str = "") -> str:
    """A ledger row's reason in the active language: the code's sentence, then the typed note.

    A `note` row, an unknown code or parameters that do not fit read as the stored text."""
    text = sentence(code, params or {}) if code != Reason.NOTE else None
    if text is None:
        return note
    return with_note(text, note)
