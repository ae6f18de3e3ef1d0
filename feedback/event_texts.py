"""What a ticket's history says, stored as a code and its parameters, rendered in the reader's language.

A writer of a `TicketEvent` that the system composes (a field change, a missed service level, a
satisfaction survey) records `body_code` (one of `EventText`) and `body_params` (the values the
sentence names: field names with their raw values, due times, a score), never a translated
sentence: an event written while the back office spoke Chinese reads in English for an English
reader and the other way round. `body` keeps only what a person typed (a note, a reply, the
customer's survey comment): it is shown as it is, after the sentence when there is one.

`render` is the one place that turns an event's body into text, for the admin, the staff views,
exports and the staff emails. It reads no database: only the event's own columns and gettext.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop


class EventText(models.TextChoices):
    """Every sentence the system writes into a ticket's history; a new writer adds its code here."""

    NOTE = "note", gettext_lazy("Text typed by a person")
    FIELD_CHANGES = "field_changes", gettext_lazy("Fields changed")
    SLA_BREACH = "sla_breach", gettext_lazy("Service level missed")
    SURVEY_ANSWERED = "survey_answered", gettext_lazy("Satisfaction survey answered")
    SURVEY_SENT = "survey_sent", gettext_lazy("Satisfaction survey emailed")
    REPLY_RETRIED = "reply_retried", gettext_lazy("Reply sent again")
    ANSWERED_ON_CONTACT = "answered_on_contact", gettext_lazy("Answered when the customer reached us")
    TIER_REPRIORITISED = "tier_reprioritised", gettext_lazy("Priority recomputed after a tier change")
    TIER_ROUTED = "tier_routed", gettext_lazy("Moved to the member-service team after a tier change")


# One field change; `old` and `new` are raw values (a choice's code, a username, a team's name),
# shown with the field's choice label in the reader's language. Known fields have their sentence.
FIELD_CHANGE = {
    "kind": gettext_noop("kind: %(old)s → %(new)s"),
    "priority": gettext_noop("priority: %(old)s → %(new)s"),
    "assignee": gettext_noop("assignee: %(old)s → %(new)s"),
    "team": gettext_noop("team: %(old)s → %(new)s"),
    # `old` and `new`: the topics' names, comma-separated (`set_ticket_topics`).
    "topics": gettext_noop("topics: %(old)s → %(new)s"),
}
NOT_TICKET_FIELDS = {"topics"}  # changes recorded like a field's that are not a column of the ticket
# Any other field of the ticket, named by its verbose name.
OTHER_FIELD_CHANGE = gettext_noop("%(field)s: %(old)s → %(new)s")
# `due` is the missed deadline (ISO 8601), shown in the local time zone.
FIRST_RESPONSE_MISSED = gettext_noop("First-response target missed: due %(due)s, no reply yet.")
RESOLUTION_MISSED = gettext_noop("Resolution target missed: due %(due)s.")
TEMPLATES: dict[str, str] = {
    EventText.SURVEY_ANSWERED: gettext_noop("Satisfaction survey for %(no)s: %(score)d/5"),
    EventText.SURVEY_SENT: gettext_noop("Satisfaction survey emailed to the customer."),
    # `code` is the error the failed attempt ended with.
    EventText.REPLY_RETRIED: gettext_noop("Sending a failed reply again (it had failed with %(code)s)."),
    # A call or chat typed in afterwards: the customer was answered `seconds` after reaching us.
    EventText.ANSWERED_ON_CONTACT: gettext_noop("Answered %(seconds)d s after the customer reached us."),
}
# The member's tier moved while the ticket was open (`feedback.services.priorities`): `old` and `new`
# are priority codes (shown with their labels), `tier` the new tier's code.
TIER_REPRIORITISED = gettext_noop("Priority %(old)s → %(new)s: the member's tier is now %(tier)s.")
# The same tier change moved a queued ticket to the member-service team (`feedback.services.priorities`):
# `old` and `new` are team names (`old` "" when it had none), `tier` the new tier's code.
TIER_ROUTED = gettext_noop("Team %(old)s → %(new)s: the member's tier is now %(tier)s.")
# A sentence followed by what a person typed (the customer's comment on a survey).
WITH_TEXT = "%(sentence)s — %(text)s"
EMPTY = "—"


def _ticket_field(name: str):
    from feedback.models import Ticket  # the models import this module

    try:
        return Ticket._meta.get_field(name)
    except Exception:  # FieldDoesNotExist: a field of a later version
        return None


def _value(field, raw) -> str:
    if raw in (None, ""):
        return EMPTY
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(raw, raw))
    return str(raw)


def _change(change: Mapping) -> str:
    name = str(change["field"])
    field = None if name in NOT_TICKET_FIELDS else _ticket_field(name)
    values = {"old": _value(field, change.get("old")), "new": _value(field, change.get("new"))}
    if name in FIELD_CHANGE:
        return gettext(FIELD_CHANGE[name]) % values
    return gettext(OTHER_FIELD_CHANGE) % {"field": field.verbose_name if field else name, **values}


def _local(moment: str) -> str:
    return timezone.localtime(datetime.datetime.fromisoformat(moment)).strftime("%Y-%m-%d %H:%M:%S")


def _breach(params: Mapping) -> str:
    lines = []
    if params.get("first_response_due"):
        lines.append(gettext(FIRST_RESPONSE_MISSED) % {"due": _local(params["first_response_due"])})
    if params.get("resolution_due"):
        lines.append(gettext(RESOLUTION_MISSED) % {"due": _local(params["resolution_due"])})
    return " ".join(lines) if lines else None


def sentence(code: str, params: Mapping) -> str | None:
    """The sentence of `code` with `params`, in the active language; None for an unknown code or
    parameters that do not fit (an event written by a later version, say)."""
    if not isinstance(params, Mapping):
        return None
    try:
        if code == EventText.FIELD_CHANGES:
            changes = params.get("changes")
            if not changes or not isinstance(changes, list):
                return None
            return "; ".join(_change(change) for change in changes)
        if code == EventText.SLA_BREACH:
            return _breach(params)
        if code == EventText.TIER_REPRIORITISED:
            field = _ticket_field("priority")
            return gettext(TIER_REPRIORITISED) % {
                "old": _value(field, params["old"]),
                "new": _value(field, params["new"]),
                "tier": params.get("tier") or EMPTY,
            }
        if code == EventText.TIER_ROUTED:
            return gettext(TIER_ROUTED) % {
                "old": params.get("old") or EMPTY,
                "new": params["new"] or EMPTY,
                "tier": params.get("tier") or EMPTY,
            }
        template = TEMPLATES.get(code)
        return None if template is None else gettext(template) % dict(params)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def render(code: str, params: Mapping | None = None, text: str = "") -> str:
    """An event's body in the active language: the code's sentence, then what a person typed.

    A `note` event, an unknown code or parameters that do not fit read as the stored text."""
    found = sentence(code, params or {}) if code != EventText.NOTE else None
    if found is None:
        return text
    return WITH_TEXT % {"sentence": found, "text": text} if text else found


def field_change(field: str, old, new) -> dict:
    """The parameters of one field change (raw values: choice codes, usernames, team names)."""
    return {"field": field, "old": "" if old is None else old, "new": "" if new is None else new}


def breach_params(*, first_response_due=None, resolution_due=None) -> dict:
    """The parameters of a missed service level: the deadlines missed, as ISO 8601."""
    params = {}
    if first_response_due is not None:
        params["first_response_due"] = first_response_due.isoformat()
    if resolution_due is not None:
        params["resolution_due"] = resolution_due.isoformat()
    return params
