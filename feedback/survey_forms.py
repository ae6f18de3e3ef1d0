"""The questions of a survey version as a page shows them (the public page and staff's phone
entry share this and `feedback/_survey_questions.html`): options, what was posted, errors, and
whether a branching question is shown for the posted answers (the page's script then follows
the customer's clicks; the server decides again on submit)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from feedback import survey_rules
from feedback.models import SEED_SURVEY_TEXTS


def _text(text: str) -> str:
    return _(text) if text in SEED_SURVEY_TEXTS else text


def raw_answers(data, definition: dict) -> dict[str, list[str]]:
    """The posted values by question key (a QueryDict or a plain dict of lists)."""
    keys = [q["key"] for q in definition.get("questions", [])]
    if hasattr(data, "getlist"):
        return {key: data.getlist(key) for key in keys if key in data}
    return {key: list(data[key]) if isinstance(data[key], list | tuple) else [data[key]] for key in keys if key in data}


def question_rows(definition: dict, raw: dict | None = None, errors: dict | None = None) -> list[dict]:
    raw, errors = raw or {}, errors or {}
    cleaned = survey_rules.clean_answers(definition, raw).answers
    rows = []
    for number, question in enumerate(definition.get("questions", []), start=1):
        kind = question["kind"]
        posted = [str(v) for v in raw.get(question["key"], [])]
        if kind in survey_rules.NUMERIC:
            options = [(str(n), str(n)) for n in survey_rules.scale(question)]
        else:
            options = [(c, c) for c in question.get("choices", [])]
        low, high = (options[0][0], options[-1][0]) if kind in survey_rules.NUMERIC else ("", "")
        rows.append(
            {
                "number": number,
                "key": question["key"],
                "kind": kind,
                "text": _text(question["text"]),
                "required": question.get("required", False),
                "options": options,
                "posted": posted,
                "posted_text": posted[0] if posted else "",
                "low": low,
                "high": high,
                "wide": len(options) > 6,
                "show_if": question.get("show_if"),
                "shown": survey_rules.condition_met(question.get("show_if"), cleaned),
                "error": errors.get(question["key"], ""),
            }
        )
    return rows


def error_dict(error) -> dict[str, str]:
    """A service ValidationError as {question key: message}; "__all__" for the rest."""
    if hasattr(error, "message_dict"):
        return {key: " ".join(messages) for key, messages in error.message_dict.items()}
    return {"__all__": " ".join(error.messages)}
