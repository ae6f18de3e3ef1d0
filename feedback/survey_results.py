"""Reading a survey's results (the admin page, its CSV and the API), in a fixed number of queries.

- Response rate: responses that came through a personal link ÷ links made ("sent"); answers
  entered by phone are counted apart (they had no link). A built-in survey whose links are not
  stored (CSAT after a ticket, the NPS automation) has no rate.
- NPS and CSAT: of the survey's first NPS and first CSAT question, across all its versions (the
  question keeps its key), with the intervals of `feedback.survey_rules`.
- Distributions: counts per score or choice of every question, from one GROUP BY.
- Free text: the latest answers with their member's number and tier (through `members.loyalty`,
  so feedback never imports rewards).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext as _

from feedback import survey_rules
from feedback.models import SEED_SURVEY_TEXTS, Survey, SurveyAnswer, SurveyLink, SurveyResponse
from members import loyalty

TEXT_LIMIT = 50


@dataclass
class QuestionResult:
    key: str
    kind: str
    text: str
    answered: int = 0
    distribution: list[tuple[str, int]] = field(default_factory=list)
    mean: survey_rules.Estimate | None = None


@dataclass(frozen=True)
class TextAnswer:
    answered_at: object
    question: str
    text: str
    channel: str
    member_no: str
    member_name: str
    tier: str


@dataclass
class SurveyResults:
    survey: Survey
    links_sent: int
    link_responses: int
    responses: int
    by_channel: dict[str, int]
    response_rate: float | None
    nps: survey_rules.Estimate | None
    csat: survey_rules.Estimate | None
    questions: list[QuestionResult]
    texts: list[TextAnswer]


def _text(text: str) -> str:
    return _(text) if text in SEED_SURVEY_TEXTS else text


def questions_of(survey: Survey) -> list[dict]:
    """Every question the survey has asked, by key: the latest version's order, then keys only
    older versions had."""
    seen: dict[str, dict] = {}
    for version in survey.versions.order_by("-number").only("definition"):
        for question in version.definition.get("questions", []):
            seen.setdefault(question["key"], question)
    return list(seen.values())


def survey_results(survey: Survey, *, text_limit: int = TEXT_LIMIT) -> SurveyResults:
    questions = questions_of(survey)
    by_channel_rows = (
        SurveyResponse.objects.filter(survey=survey)
        .values("channel")
        .annotate(n=Count("id"), via_link=Count("link"))
        .order_by("channel")
    )
    by_channel = {row["channel"] or "web": row["n"] for row in by_channel_rows}
    link_responses = sum(row["via_link"] for row in by_channel_rows)
    responses = sum(by_channel.values())
    links_sent = SurveyLink.objects.filter(survey=survey).count()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        SurveyAnswer.objects.filter(response__survey=survey)
        .exclude(kind="text")
        .values("question_key", "number", "choice")
        .annotate(n=Count("id"))
    )
    answered = dict(
        SurveyAnswer.objects.filter(response__survey=survey)
        .values("question_key")
        .annotate(n=Count("response", distinct=True))
        .values_list("question_key", "n")
    )
    for row in rows:
        value = str(row["number"]) if row["number"] is not None else row["choice"]
        counts[row["question_key"]][value] = row["n"]
    results, nps, csat = [], None, None
    for question in questions:
        key, kind = question["key"], question["kind"]
        result = QuestionResult(key=key, kind=kind, text=_text(question["text"]), answered=answered.get(key, 0))
        found = counts.get(key, {})
        if kind in survey_rules.NUMERIC:
            numbers = {int(value): n for value, n in found.items()}
            result.distribution = [(str(v), numbers.get(v, 0)) for v in survey_rules.scale(question)]
            result.mean = survey_rules.mean_interval(numbers)
            if kind == "nps" and nps is None:
                nps = survey_rules.nps(numbers)
            if kind == "csat" and csat is None:
                csat = result.mean
        elif kind in ("single", "multiple"):
            listed = list(question.get("choices", []))
            result.distribution = [(c, found.get(c, 0)) for c in listed] + [
                (c, n) for c, n in found.items() if c not in listed
            ]
        results.append(result)
    return SurveyResults(
        survey=survey,
        links_sent=links_sent,
        link_responses=link_responses,
        responses=responses,
        by_channel=by_channel,
        response_rate=(link_responses / links_sent) if links_sent else None,
        nps=nps,
        csat=csat,
        questions=results,
        texts=text_answers(survey, questions, limit=text_limit),
    )


def text_answers(survey: Survey, questions: list[dict], *, limit: int) -> list[TextAnswer]:
    texts = {q["key"]: _text(q["text"]) for q in questions}
    rows = list(
        SurveyAnswer.objects.filter(response__survey=survey, kind="text")
        .exclude(text="")
        .select_related("response__member")
        .order_by("-response__created_at", "-id")[:limit]
    )
    members = {row.response.member_id: row.response.member for row in rows if row.response.member_id}
    snapshots = loyalty.snapshots(list(members.values())) if members else {}
    out = []
    for row in rows:
        member = row.response.member
        snapshot = snapshots.get(member.pk) if member else None
        out.append(
            TextAnswer(
                answered_at=row.response.created_at,
                question=texts.get(row.question_key, row.question_key),
                text=row.text,
                channel=row.response.channel,
                member_no=member.member_no if member else "",
                member_name=member.name if member else "",
                tier=snapshot.tier.name if snapshot else "",
            )
        )
    return out


def export_rows(survey: Survey):
    """(header, rows) of every response, one column per question, for the CSV export; rows are
    read in chunks."""
    questions = questions_of(survey)
    header = [_("Answered at"), _("Channel"), _("Member number"), _("Entered by"), _("Version")] + [
        _text(q["text"]) for q in questions
    ]
    keys = [q["key"] for q in questions]

    def rows():
        responses = (
            SurveyResponse.objects.filter(survey=survey)
            .select_related("member", "staff", "version")
            .prefetch_related("answers")
            .order_by("created_at", "id")
        )
        for response in responses.iterator(chunk_size=500):
            values: dict[str, list[str]] = defaultdict(list)
            for answer in response.answers.all():
                shown = answer.number if answer.number is not None else answer.choice or answer.text
                values[answer.question_key].append(str(shown))
            yield [
                response.created_at.isoformat(),
                response.channel,
                response.member.member_no if response.member else "",
                response.staff.get_username() if response.staff else "",
                response.version.number if response.version else "",
                *("; ".join(values.get(key, [])) for key in keys),
            ]

    return header, rows()
