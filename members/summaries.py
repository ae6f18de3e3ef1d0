"""What a service record or an interaction is about, when the system wrote it: a code and its
parameters, rendered in the reader's language.

A writer that composes a summary (feedback's complaint record, a survey answer) records
`summary_code` (one of `Summary`) and `summary_params` (the values the sentence names: a ticket
number, a score), never a translated sentence, so a record written while the back office spoke
Chinese reads in English for an English reader and the other way round. `summary` keeps only what
a person typed (staff's own summary, the customer's message or comment): it is shown as it is,
inside or after the sentence.

`render` is the one place that turns a summary into text, for the admin, the API, the member page
and the exports. It reads no database: only the row's own columns and gettext.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext, gettext_lazy, gettext_noop


class Summary(models.TextChoices):
    """Every summary the system writes; a new writer adds its code here and a template below."""

    NOTE = "note", gettext_lazy("Summary typed by staff")
    FEEDBACK = "feedback", gettext_lazy("Customer feedback")
    SATISFACTION_SURVEY = "satisfaction_survey", gettext_lazy("Satisfaction survey answer")
    RECOMMENDATION_SURVEY = "recommendation_survey", gettext_lazy("Recommendation survey answer")
    DATA_EXPORT = "data_export", gettext_lazy("Data downloaded by the member")
    CARE_PLAN_CLAIM = "care_plan_claim", gettext_lazy("Care plan claim")
    DESIGNED_SURVEY = "designed_survey", gettext_lazy("Survey answered")


# The sentence of each code (msgids of the project catalogue). `%(text)s` is the typed text (the
# `summary` column); a template without it is followed by the typed text, if any.
TEMPLATES: dict[str, str] = {
    # `no`: the ticket's number; the text is the customer's message.
    Summary.FEEDBACK: gettext_noop("Feedback %(no)s: %(text)s"),
    Summary.SATISFACTION_SURVEY: gettext_noop("Satisfaction survey for %(no)s: %(score)d/5"),
    Summary.RECOMMENDATION_SURVEY: gettext_noop("Recommendation survey (NPS): %(score)d/10"),
    # No parameters: the member centre's "download my data" (its page or its API).
    Summary.DATA_EXPORT: gettext_noop("The member downloaded their data in the member centre"),
    # `plan`: the care plan's name; the text is the member's description of what happened.
    Summary.CARE_PLAN_CLAIM: gettext_noop("Care plan claim under “%(plan)s”: %(text)s"),
    # `survey`: the survey's name as the shop wrote it; `channel`: how it was answered.
    Summary.DESIGNED_SURVEY: gettext_noop("Survey answered: %(survey)s"),
}
# A sentence followed by the customer's comment (as surveys wrote it before codes).
WITH_TEXT = "%(sentence)s — %(text)s"


def sentence(code: str, params: Mapping, text: str = "") -> str | None:
    """The sentence of `code` with `params` (and the typed `text` where the sentence names it), in
    the active language; None for an unknown code or parameters that do not fit."""
    template = TEMPLATES.get(code)
    if template is None or not isinstance(params, Mapping):
        return None
    try:
        return gettext(template) % {**params, "text": text}
    except (KeyError, TypeError, ValueError):
        return None


def render(code: str, params: Mapping | None = None, text: str = "") -> str:
    """A summary in the active language. A `note`, an unknown code or parameters that do not fit
    read as the stored text."""
    found = sentence(code, params or {}, text) if code != Summary.NOTE else None
    if found is None:
        return text
    if text and "%(text)s" not in TEMPLATES[code]:
        return WITH_TEXT % {"sentence": found, "text": text}
    return found
