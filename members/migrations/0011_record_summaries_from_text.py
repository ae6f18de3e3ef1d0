"""Existing service records and interactions written by the system get their summary code back.

Feedback and surveys used to store their summaries already translated (in the language of whoever
was active): "Feedback FB-…: <message>" on a complaint record, "Satisfaction survey for …: 4/5" and
"Recommendation survey (NPS): 9/10" (each perhaps followed by " — <comment>") on interactions. Each
sentence of the time (frozen below) becomes a regular expression in English and in Simplified
Chinese (the Chinese from the project catalogue) and is tried only on rows of the kind it was
written for, so staff's own summaries stay as typed. A match keeps in `summary` only what the
customer wrote; anything else stays a `note` with its text as it was.

Reverse: the coded rows get their sentence back in English, in `summary`.
"""

import re

from django.db import migrations
from django.utils import translation

NOTE = "note"
BATCH = 2000
LANGUAGES = ("en", "zh-hans")
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
# (model, code, the record kinds it was written for, the sentence, whether a comment may follow)
SENTENCES = [
    ("ServiceRecord", "feedback", {"complaint"}, "Feedback %(no)s: %(text)s", False),
    ("Interaction", "satisfaction_survey", {"other"}, "Satisfaction survey for %(no)s: %(score)d/5", True),
    ("Interaction", "recommendation_survey", {"campaign_response"}, "Recommendation survey (NPS): %(score)d/10", True),
]
LIMITS = {"ServiceRecord": 200, "Interaction": 500}


def _translated(msgid: str, language: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


def _pattern(template: str, *, with_comment: bool) -> re.Pattern:
    parts, at = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at : match.start()]))
        name, kind = match.groups()
        if kind == "d":
            parts.append(rf"(?P<{name}>\d+)")
        elif name == "text":
            parts.append(r"(?P<text>.*)")
        else:
            parts.append(rf"(?P<{name}>\S+?)")
        at = match.end()
    parts.append(re.escape(template[at:]))
    comment = r"(?: — (?P<text>.*))?" if with_comment else ""
    return re.compile("^" + "".join(parts) + comment + "$", re.DOTALL)


def build_parsers(model_name: str) -> list[tuple[str, set, re.Pattern]]:
    return [
        (code, kinds, _pattern(_translated(template, language), with_comment=with_comment))
        for language in LANGUAGES
        for model, code, kinds, template, with_comment in SENTENCES
        if model == model_name
    ]


def parse(text: str, kind: str, parsers) -> tuple[str, dict, str]:
    """(code, params, typed text) of a stored summary, or (`note`, {}, the text)."""
    for code, kinds, pattern in parsers:
        if kind not in kinds:
            continue
        match = pattern.match(text)
        if match is None:
            continue
        params = {name: value for name, value in match.groupdict().items() if name != "text"}
        if "score" in params:
            params["score"] = int(params["score"])
        return code, params, match.groupdict().get("text") or ""
    return NOTE, {}, text


def convert_rows(Model) -> int:
    """Give every row still without a code its code; returns how many changed. Safe to run again."""
    parsers = build_parsers(Model.__name__)
    changed, batch = 0, []
    rows = Model.objects.filter(summary_code=NOTE).exclude(summary="").only("id", "kind", "summary")
    for record in rows.order_by("id").iterator(chunk_size=BATCH):
        code, params, text = parse(record.summary, record.kind, parsers)
        if code == NOTE:
            continue
        record.summary_code, record.summary_params, record.summary = code, params, text
        batch.append(record)
        if len(batch) >= BATCH:
            changed += _save(Model, batch)
    return changed + _save(Model, batch)


def _save(Model, batch: list) -> int:
    if batch:
        Model.objects.bulk_update(batch, ["summary_code", "summary_params", "summary"])
    count = len(batch)
    batch.clear()
    return count


def render_english(model_name: str, code: str, params: dict, text: str) -> str:
    """The summary as writers stored it before codes, in English (the reverse)."""
    for model, known, _kinds, template, with_comment in SENTENCES:
        if model == model_name and known == code:
            sentence = template % {**params, "text": text}
            if with_comment and text:
                sentence = f"{sentence} — {text}"
            return sentence[: LIMITS[model_name]]
    return text


def forwards(apps, schema_editor):
    for name in LIMITS:
        convert_rows(apps.get_model("members", name))


def backwards(apps, schema_editor):
    for name in LIMITS:
        Model = apps.get_model("members", name)
        batch = []
        for record in Model.objects.exclude(summary_code=NOTE).order_by("id").iterator(chunk_size=BATCH):
            record.summary = render_english(name, record.summary_code, record.summary_params or {}, record.summary)
            record.summary_code, record.summary_params = NOTE, {}
            batch.append(record)
            if len(batch) >= BATCH:
                _save(Model, batch)
        _save(Model, batch)


class Migration(migrations.Migration):
    dependencies = [("members", "0010_record_summary_codes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
