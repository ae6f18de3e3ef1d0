"""Designed surveys as pure rules, without the ORM: which questions show, what an answer may be,
and the figures of the results (NPS and CSAT with their confidence intervals).

A version's `definition` is `{"questions": [question, ...]}`, each question
`{"key", "kind", "text", "required", "choices": [...], "scale_max", "show_if": {"key", "op", "value"} | None}`.

Branching: a question with `show_if` is asked only when the earlier question `key` was answered
and its answer meets the condition (`lte`/`gte` compare a number, `eq` a number or a choice, `any`
one of several values separated by `|`; for a multiple choice, any chosen option counts). A hidden
question's answer is dropped, never stored; a required question is required only when shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

MAX_TEXT_LENGTH = 1000
NUMERIC = ("nps", "csat", "rating")


def scale(question: Mapping) -> range:
    kind = question["kind"]
    if kind == "nps":
        return range(0, 11)
    if kind == "csat":
        return range(1, 6)
    return range(1, int(question.get("scale_max") or 5) + 1)


def condition_met(show_if: Mapping | None, answers: Mapping) -> bool:
    """Whether a question with `show_if` is shown, given the (cleaned) answers so far."""
    if not show_if:
        return True
    answer = answers.get(show_if["key"])
    if answer is None or answer == [] or answer == "":
        return False
    values = answer if isinstance(answer, list) else [answer]
    op, expected = show_if["op"], str(show_if.get("value", "")).strip()
    if op in ("lte", "gte"):
        try:
            limit = int(expected)
        except ValueError:
            return False
        numbers = [v for v in values if isinstance(v, int)]
        return any(v <= limit if op == "lte" else v >= limit for v in numbers)
    accepted = {part.strip() for part in expected.split("|")} if op == "any" else {expected}
    return any(str(v) in accepted for v in values)


@dataclass(frozen=True)
class Cleaned:
    answers: dict  # key -> int | str | list[str]   (shown and answered questions only)
    errors: dict  # key -> message


def clean_answers(definition: Mapping, raw: Mapping[str, Sequence[str]]) -> Cleaned:
    """Check the raw form values (key -> list of strings) against the questions, in order, with
    the branching applied. Returns the answers to store and the errors by question key."""
    answers: dict = {}
    errors: dict = {}
    for question in definition.get("questions", []):
        key = question["key"]
        if not condition_met(question.get("show_if"), answers):
            continue
        values = [str(v).strip() for v in raw.get(key, []) if str(v).strip()]
        kind = question["kind"]
        if not values:
            if question.get("required"):
                errors[key] = _("Please answer this question.")
            continue
        if kind in NUMERIC:
            allowed = scale(question)
            try:
                number = int(values[0])
            except ValueError:
                number = None
            if number not in allowed:
                errors[key] = _("Choose a score from %(low)d to %(high)d.") % {"low": allowed[0], "high": allowed[-1]}
            else:
                answers[key] = number
        elif kind == "single":
            if values[0] not in question.get("choices", []):
                errors[key] = _("Choose one of the options.")
            else:
                answers[key] = values[0]
        elif kind == "multiple":
            chosen = list(dict.fromkeys(values))
            if any(v not in question.get("choices", []) for v in chosen):
                errors[key] = _("Choose among the options.")
            else:
                answers[key] = [c for c in question["choices"] if c in chosen]
        else:
            text = values[0]
            if len(text) > MAX_TEXT_LENGTH:
                errors[key] = _("The answer has %(count)s characters; at most %(limit)s are accepted.") % {
                    "count": len(text),
                    "limit": MAX_TEXT_LENGTH,
                }
            else:
                answers[key] = text
    return Cleaned(answers=answers, errors=errors)


# --- results ------------------------------------------------------------------------------------

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int


def nps(counts: Mapping[int, int]) -> Estimate:
    """NPS = 100 × (promoters − detractors) / n, promoters 9–10, detractors 0–6.

    95% interval: NPS is the mean of a score that is +1 (promoter), 0 or −1 (detractor), so its
    variance is (p + d − (p − d)²) / n with p, d the proportions; the normal interval
    ±1.96·√variance, times 100, clipped to [−100, 100]. Needs n ≥ 2."""
    n = sum(counts.values())
    if n == 0:
        return Estimate(None, None, None, 0)
    promoters = sum(c for score, c in counts.items() if score >= 9) / n
    detractors = sum(c for score, c in counts.items() if score <= 6) / n
    value = 100 * (promoters - detractors)
    if n < 2:
        return Estimate(value, None, None, n)
    half = Z95 * math.sqrt(max(0.0, promoters + detractors - (promoters - detractors) ** 2) / n) * 100
    return Estimate(value, max(-100.0, value - half), min(100.0, value + half), n)


def mean_interval(counts: Mapping[int, int]) -> Estimate:
    """The mean score with a 95% Student t interval: mean ± t(0.975, n−1) · s / √n, s the sample
    standard deviation. Needs n ≥ 2."""
    n = sum(counts.values())
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = sum(score * c for score, c in counts.items()) / n
    if n < 2:
        return Estimate(mean, None, None, n)
    from scipy.stats import t

    variance = sum(c * (score - mean) ** 2 for score, c in counts.items()) / (n - 1)
    half = float(t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)
