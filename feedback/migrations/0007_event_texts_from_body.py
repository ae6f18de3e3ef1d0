"""Existing ticket events get their text code and parameters back from the sentence they stored.

The system used to store its sentences already translated (field changes in the staff member's
language, service-level breaches in FEEDBACK_STAFF_LANGUAGE, survey texts in the customer's): the
same sentence is found in English and in Simplified Chinese. Each sentence of the time (frozen
below) is turned into a regular expression in both languages (the Chinese from the project
catalogue) and tried only on events of the kind it was written for, so a note a person typed stays
a note. Field changes get back the raw values (choice labels → codes); a survey answer keeps the
customer's comment in `body`. An event that matches nothing stays a `note` with its text as it was.

Reverse: the coded events get their sentence back in English, in `body`.
"""

import datetime
import re

from django.db import migrations
from django.utils import timezone, translation

NOTE = "note"
BATCH = 2000
LANGUAGES = ("en", "zh-hans")
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
EMPTY = "—"
FIELD_CHANGE = {
    "kind": "kind: %(old)s → %(new)s",
    "priority": "priority: %(old)s → %(new)s",
    "assignee": "assignee: %(old)s → %(new)s",
    "team": "team: %(old)s → %(new)s",
}
CHOICE_FIELDS = ("kind", "priority")
FIRST_RESPONSE_MISSED = "First-response target missed: due %(due)s, no reply yet."
RESOLUTION_MISSED = "Resolution target missed: due %(due)s."
SURVEY_ANSWERED = "Satisfaction survey for %(no)s: %(score)d/5"
SURVEY_SENT = "Satisfaction survey emailed to the customer."
LOCAL = "%Y-%m-%d %H:%M:%S"


def _translated(msgid: str, language: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


def _regex(template: str) -> str:
    parts, at = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at : match.start()]))
        name, kind = match.groups()
        parts.append(rf"(?P<{name}>\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
        at = match.end()
    parts.append(re.escape(template[at:]))
    return "".join(parts)


class Parsers:
    """Every sentence of the time in both languages, and the choice labels back to their codes."""

    def __init__(self, Ticket):
        self.labels = {field: {} for field in CHOICE_FIELDS}
        for field in CHOICE_FIELDS:
            for value, label in Ticket._meta.get_field(field).flatchoices:
                for language in LANGUAGES:
                    self.labels[field][_translated(str(label), language)] = value
        self.changes = [
            (field, re.compile("^" + _regex(_translated(template, language)) + "$", re.DOTALL))
            for language in LANGUAGES
            for field, template in FIELD_CHANGE.items()
        ]
        self.breaches = [
            (
                re.compile("^" + _regex(_translated(FIRST_RESPONSE_MISSED, language)) + "$"),
                re.compile("^" + _regex(_translated(RESOLUTION_MISSED, language)) + "$"),
                _translated(RESOLUTION_MISSED, language).split("%(due)s")[0],
            )
            for language in LANGUAGES
        ]
        self.answered = [
            re.compile("^" + _regex(_translated(SURVEY_ANSWERED, language)) + r"(?: — (?P<_text>.*))?$", re.DOTALL)
            for language in LANGUAGES
        ]
        self.sent = {_translated(SURVEY_SENT, language) for language in LANGUAGES}

    def _change(self, part: str):
        for field, pattern in self.changes:
            match = pattern.match(part)
            if match is None:
                continue
            values = []
            for raw in (match["old"], match["new"]):
                if raw == EMPTY:
                    values.append("")
                elif field in CHOICE_FIELDS:
                    if raw not in self.labels[field]:
                        return None
                    values.append(self.labels[field][raw])
                else:
                    values.append(raw)
            return {"field": field, "old": values[0], "new": values[1]}
        return None

    def _breach(self, text: str):
        for first, resolution, resolution_start in self.breaches:
            params = {}
            rest = text
            at = text.find(" " + resolution_start)
            head, tail = (text[:at], text[at + 1 :]) if at >= 0 else (text, "")
            match = first.match(head)
            if match:
                params["first_response_due"] = _aware(match["due"])
                rest = tail
            if rest:
                match = resolution.match(rest)
                if match is None:
                    continue
                params["resolution_due"] = _aware(match["due"])
            if params and None not in params.values():
                return params
        return None

    def parse(self, text: str, kind: str) -> tuple[str, dict, str]:
        """(code, params, typed text) of a stored body, or (`note`, {}, the text)."""
        if kind == "update":
            changes = [self._change(part) for part in text.split("; ")]
            if changes and None not in changes:
                return "field_changes", {"changes": changes}, ""
        elif kind == "sla_breach":
            params = self._breach(text)
            if params:
                return "sla_breach", params, ""
        elif kind == "survey":
            if text in self.sent:
                return "survey_sent", {}, ""
            for pattern in self.answered:
                match = pattern.match(text)
                if match:
                    return "survey_answered", {"no": match["no"], "score": int(match["score"])}, match["_text"] or ""
        return NOTE, {}, text


def _aware(local: str):
    try:
        moment = datetime.datetime.strptime(local, LOCAL)
    except ValueError:
        return None
    return timezone.make_aware(moment).isoformat()


def convert_rows(TicketEvent, Ticket) -> int:
    """Give every event still without a code its code; returns how many changed. Safe to run
    again: a converted event is no longer a `note`."""
    parsers = Parsers(Ticket)
    changed, batch = 0, []
    rows = TicketEvent.objects.filter(body_code=NOTE, kind__in=["update", "sla_breach", "survey"]).exclude(body="")
    for event in rows.only("id", "kind", "body").order_by("id").iterator(chunk_size=BATCH):
        code, params, text = parsers.parse(event.body, event.kind)
        if code == NOTE:
            continue
        event.body_code, event.body_params, event.body = code, params, text
        batch.append(event)
        if len(batch) >= BATCH:
            changed += _save(TicketEvent, batch)
    return changed + _save(TicketEvent, batch)


def _save(TicketEvent, batch: list) -> int:
    if batch:
        TicketEvent.objects.bulk_update(batch, ["body_code", "body_params", "body"])
    count = len(batch)
    batch.clear()
    return count


def render_english(code: str, params: dict, text: str, Ticket) -> str:
    """The sentence as the system stored it before codes, in English (the reverse)."""
    if code == "field_changes":
        parts = []
        for change in params.get("changes", []):
            field = change["field"]
            labels = dict(Ticket._meta.get_field(field).flatchoices) if field in CHOICE_FIELDS else {}
            old, new = (str(labels.get(v, v)) if v else EMPTY for v in (change["old"], change["new"]))
            parts.append(FIELD_CHANGE.get(field, field + ": %(old)s → %(new)s") % {"old": old, "new": new})
        return "; ".join(parts)
    if code == "sla_breach":
        lines = []
        for key, template in (("first_response_due", FIRST_RESPONSE_MISSED), ("resolution_due", RESOLUTION_MISSED)):
            if params.get(key):
                due = timezone.localtime(datetime.datetime.fromisoformat(params[key])).strftime(LOCAL)
                lines.append(template % {"due": due})
        return " ".join(lines)
    if code == "survey_sent":
        return SURVEY_SENT
    if code == "survey_answered":
        sentence = SURVEY_ANSWERED % params
        return f"{sentence} — {text}" if text else sentence
    return text


def forwards(apps, schema_editor):
    convert_rows(apps.get_model("feedback", "TicketEvent"), apps.get_model("feedback", "Ticket"))


def backwards(apps, schema_editor):
    TicketEvent = apps.get_model("feedback", "TicketEvent")
    Ticket = apps.get_model("feedback", "Ticket")
    batch = []
    for event in TicketEvent.objects.exclude(body_code=NOTE).order_by("id").iterator(chunk_size=BATCH):
        event.body = render_english(event.body_code, event.body_params or {}, event.body, Ticket)
        event.body_code, event.body_params = NOTE, {}
        batch.append(event)
        if len(batch) >= BATCH:
            _save(TicketEvent, batch)
    _save(TicketEvent, batch)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0006_event_text_codes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
