"""Existing ledger rows get their reason code and parameters back from the sentence they stored.

Writers used to store the reason already translated, in whatever language the writer spoke: the
same sentence is found in English and in Simplified Chinese. Each sentence of the time (frozen
below, as it was written) is turned into a regular expression in both languages (the Chinese from
the project catalogue), and tried only on rows of the kind that sentence was written for, so a
manager's adjustment that happens to read "Purchase 7" stays the manager's note. A row that
matches gets its code and parameters and keeps in `reason` only the note a person typed (the part
after "Redemption of … cancelled: "); a row that matches nothing becomes a `note` row with its text
as it was.

Reverse: the coded rows get their sentence back in English, in `reason`.
"""

import re

from django.db import migrations
from django.utils import translation

NOTE = "note"
BATCH = 2000

# (code, the kinds it was written for, the sentence as writers formatted it)
SENTENCES = [
    ("purchase", {"earn"}, "Purchase %(ref)s"),
    ("refund", {"refund_reversal", "spend_return"}, "Refund %(ref)s of purchase %(purchase)s"),
    ("redemption", {"spend"}, "Redeemed %(quantity)d × %(reward)s"),
    ("points_payment", {"spend"}, "Paid with points: purchase %(ref)s"),
    ("redemption_cancelled", {"redemption_return"}, "Redemption of %(reward)s cancelled"),
    ("expiry", {"expire"}, "Expired: points left from %(date)s"),
    ("expired_at_once", {"expire"}, "Expired on %(date)s, before it was recorded"),
    ("bonus", {"bonus"}, "Bonus: %(bonus)s"),
    ("campaign", {"bonus"}, "Campaign: %(name)s"),
    ("referral_welcome", {"bonus"}, "Referral: welcome (referred by %(member_no)s)"),
    ("referral_first_purchase", {"bonus"}, "Referral: %(member_no)s made a first purchase"),
]
# Rows that may carry a typed note after the sentence, as f"{sentence}: {note}".
WITH_NOTE = {"redemption_cancelled"}
# A "note" code wrote, not a person: the back office's cancellation (now `Redemption.cancel_reason_code`).
NOTES_BY_CODE = ["Cancelled in the back office"]
# The activity bonus kinds and their labels of the time ("Bonus: Birthday" → kind "birthday").
BONUS_KINDS = {
    "sign_up": "Sign-up",
    "birthday": "Birthday",
    "survey": "Survey completed",
    "review": "Review",
    "referral": "Referral",
    "event": "Event attendance",
}
LANGUAGES = ("en", "zh-hans")
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def _translated(msgid: str, language: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


def _pattern(template: str, *, with_note: bool) -> re.Pattern:
    parts, at = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at : match.start()]))
        name, kind = match.groups()
        parts.append(rf"(?P<{name}>\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
        at = match.end()
    parts.append(re.escape(template[at:]))
    note = r"(?:: (?P<_note>.*))?" if with_note else ""
    return re.compile("^" + "".join(parts) + note + "$", re.DOTALL)


def build_parsers() -> list[tuple[str, set, re.Pattern, dict | None, set]]:
    """(code, kinds, pattern, bonus labels, notes written by code) for every sentence in every
    language."""
    parsers = []
    by_code = {_translated(note, language) for note in NOTES_BY_CODE for language in LANGUAGES}
    for language in LANGUAGES:
        labels = {_translated(label, language): kind for kind, label in BONUS_KINDS.items()}
        for code, kinds, template in SENTENCES:
            pattern = _pattern(_translated(template, language), with_note=code in WITH_NOTE)
            if code == "bonus":
                # "Bonus: <label>" or "Bonus: <label> (<reference>)", the label one of the kinds'.
                prefix = re.escape(_translated(template, language).split("%(bonus)s")[0])
                choices = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
                pattern = re.compile(rf"^{prefix}(?P<bonus>{choices})(?: \((?P<reference>.*)\))?$", re.DOTALL)
                parsers.append((code, kinds, pattern, labels, by_code))
            else:
                parsers.append((code, kinds, pattern, None, by_code))
    return parsers


def parse(text: str, kind: str, parsers) -> tuple[str, dict, str]:
    """(code, params, note) of a stored reason: a known sentence, or a `note` with the text."""
    for code, kinds, pattern, labels, by_code in parsers:
        if kind not in kinds:
            continue
        match = pattern.match(text)
        if match is None:
            continue
        params = {name: value for name, value in match.groupdict().items() if not name.startswith("_")}
        note = match.groupdict().get("_note") or ""
        if note in by_code:
            note = ""  # no person typed it: the redemption's cancellation records where it happened
        if labels is not None:
            params["bonus"] = labels[params["bonus"]]
            if not params.get("reference"):
                params.pop("reference", None)
        if "quantity" in params:
            params["quantity"] = int(params["quantity"])
        return code, params, note
    return NOTE, {}, text


def convert_rows(LedgerEntry) -> int:
    """Give every row still without a code (`note` with no parameters) its code; returns how many
    rows changed. Safe to run again: a converted row is skipped or parses to itself."""
    parsers = build_parsers()
    changed, batch = 0, []
    rows = LedgerEntry.objects.filter(reason_code=NOTE).exclude(reason="").only("id", "kind", "reason")
    for entry in rows.order_by("id").iterator(chunk_size=BATCH):
        code, params, note = parse(entry.reason, entry.kind, parsers)
        if code == NOTE:
            continue
        entry.reason_code, entry.reason_params, entry.reason = code, params, note[:200]
        batch.append(entry)
        if len(batch) >= BATCH:
            changed += _save(LedgerEntry, batch)
    return changed + _save(LedgerEntry, batch)


def _save(LedgerEntry, batch: list) -> int:
    if batch:
        LedgerEntry.objects.bulk_update(batch, ["reason_code", "reason_params", "reason"])
    count = len(batch)
    batch.clear()
    return count


def render_english(code: str, params: dict, note: str) -> str:
    """The sentence as writers stored it before codes, in English (the reverse)."""
    template = next((t for c, _kinds, t in SENTENCES if c == code), None)
    if template is None:
        return note
    values = dict(params)
    if code == "bonus":
        values["bonus"] = BONUS_KINDS.get(values.get("bonus"), values.get("bonus", ""))
    text = template % values
    if code == "bonus" and values.get("reference"):
        text = f"{text} ({values['reference']})"
    if note:
        text = f"{text}: {note}"
    return text[:200]


def forwards(apps, schema_editor):
    convert_rows(apps.get_model("rewards", "LedgerEntry"))


def backwards(apps, schema_editor):
    LedgerEntry = apps.get_model("rewards", "LedgerEntry")
    batch = []
    for entry in LedgerEntry.objects.exclude(reason_code=NOTE).order_by("id").iterator(chunk_size=BATCH):
        entry.reason = render_english(entry.reason_code, entry.reason_params or {}, entry.reason)
        entry.reason_code, entry.reason_params = NOTE, {}
        batch.append(entry)
        if len(batch) >= BATCH:
            _save(LedgerEntry, batch)
    _save(LedgerEntry, batch)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0013_ledger_reason_codes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
