"""Surveys the shop designs: versions, personal links, and answers online or by phone.

1. **Versions.** Staff edit a survey's questions freely; what a customer answers is the frozen
   `SurveyVersion` (`current_version`). While the latest version has no answers it follows the
   edits; once it has answers an edit makes a new version, and earlier answers keep theirs.
2. **Links.** `create_link` makes one personal link per call (a `SurveyLink` row — the "links
   sent" of the response rate — and a signed token naming it). A changed token is refused
   (`SurveyLinkInvalid`), an old one has expired (`SurveyLinkExpired`, the link's `expires_at`),
   an answered one is refused (`SurveyAlreadyAnswered`): the link row is locked while the answer
   is stored and `SurveyResponse.token_id` is unique, so two answers sent at once store one.
3. **Answers.** `answer_link` (the public page) and `answer_by_phone` (staff in the admin) share
   `_record`: the branching and checks of `feedback.survey_rules.clean_answers`, one
   `SurveyResponse` with its `SurveyAnswer` rows, and one interaction of kind "survey" on the
   member's profile (so `rewards` gives the survey activity bonus, once per response).
"""

from __future__ import annotations

import contextlib
import datetime
import secrets

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback import survey_rules
from feedback.models import Survey, SurveyAnswer, SurveyLink, SurveyQuestion, SurveyResponse, SurveyVersion
from feedback.services._common import _user, public_url
from feedback.services.errors import FeedbackError
from feedback.signals import survey_answered
from members import services as member_services
from members.models import Interaction, Member
from members.summaries import Summary

LINK_SALT = "feedback.survey.designed"
# How the answer reached us -> the member interaction's channel.
INTERACTION_CHANNELS = {
    "phone": Interaction.Channel.PHONE,
    "sms": Interaction.Channel.SMS,
    "email": Interaction.Channel.EMAIL,
    "wechat": Interaction.Channel.WECHAT,
}


class SurveyClosed(FeedbackError):
    code = "survey_closed"


def _errors():
    # The built-in flow's errors (same codes, same pages).
    from feedback import surveys

    return surveys.SurveyLinkInvalid, surveys.SurveyLinkExpired, surveys.SurveyAlreadyAnswered


# --- versions -----------------------------------------------------------------------------------


def definition_of(questions: list[SurveyQuestion]) -> dict:
    """The version definition (`feedback.survey_rules`) of the questions, in order."""
    keys = {q.pk: q.key for q in questions}
    out = []
    for question in questions:
        show_if = None
        if question.show_if_question_id and question.show_if_operator and question.show_if_question_id in keys:
            show_if = {
                "key": keys[question.show_if_question_id],
                "op": question.show_if_operator,
                "value": question.show_if_value,
            }
        out.append(
            {
                "key": question.key,
                "kind": question.kind,
                "text": question.text,
                "required": question.required,
                "choices": [c.strip() for c in question.choices.splitlines() if c.strip()],
                "scale_max": question.scale_max,
                "show_if": show_if,
            }
        )
    return {"questions": out}


@transaction.atomic
def current_version(*, survey: Survey) -> SurveyVersion:
    """The version answers go to now: the latest, brought up to date with the questions while it
    has no answers; a new one when it has answers and the questions changed."""
    Survey.objects.select_for_update().filter(pk=survey.pk).first()
    definition = definition_of(list(survey.questions.order_by("position", "id")))
    latest = survey.versions.order_by("-number").first()
    if latest is not None and latest.definition == definition:
        return latest
    if latest is not None and not latest.responses.exists():
        latest.definition = definition
        latest.save(update_fields=["definition"])
        return latest
    return SurveyVersion.objects.create(
        survey=survey, number=(latest.number + 1 if latest else 1), definition=definition
    )


def fill_question_keys(*, survey: Survey) -> None:
    """Give every question without a key a stable one (q1, q2…), unique within the survey."""
    questions = list(survey.questions.order_by("position", "id"))
    taken = {q.key for q in questions if q.key}
    number = 1
    for question in questions:
        if question.key:
            continue
        while f"q{number}" in taken:
            number += 1
        question.key = f"q{number}"
        taken.add(question.key)
        question.save(update_fields=["key"])


# --- links --------------------------------------------------------------------------------------


def link_token(link: SurveyLink) -> str:
    return signing.dumps({"l": link.pk, "n": link.nonce}, salt=LINK_SALT)


def link_url(link: SurveyLink) -> str:
    return public_url(reverse("feedback:designed_survey", args=[link_token(link)]))


@transaction.atomic
def create_link(*, survey: Survey, member: Member, channel: str = "", source: str = "") -> SurveyLink:
    """A new personal, single-use link to `survey` for `member`, valid `survey.link_valid_days`."""
    if not survey.is_active:
        raise SurveyClosed(_("This survey is closed."))
    version = current_version(survey=survey)
    now = timezone.now()
    return SurveyLink.objects.create(
        survey=survey,
        version=version,
        member=member,
        nonce=secrets.token_urlsafe(18)[:24],
        channel=channel[:10],
        source=source[:40],
        expires_at=now + datetime.timedelta(days=survey.link_valid_days),
        created_at=now,
    )


def open_link(*, token: str) -> SurveyLink:
    """The link a token names, if it may still be answered; else SurveyLinkInvalid, SurveyClosed,
    SurveyLinkExpired or SurveyAlreadyAnswered."""
    invalid, _expired, _answered = _errors()
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except (signing.BadSignature, ValueError):
        raise invalid(_("This survey link is not valid.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("l"), int):
        raise invalid(_("This survey link is not valid."))
    link = (
        SurveyLink.objects.select_related("survey", "version", "member")
        .filter(pk=data["l"], nonce=str(data.get("n")))
        .first()
    )
    if link is None:
        raise invalid(_("This survey link is not valid."))
    _check_open(link)
    return link


def _check_open(link: SurveyLink) -> None:
    _invalid, expired, answered = _errors()
    if link.used_at is not None:
        raise answered(_("This survey has already been answered. Thank you!"))
    if not link.survey.is_active:
        raise SurveyClosed(_("This survey is closed."))
    if link.expires_at <= timezone.now():
        raise expired(_("This survey link has expired."))


# --- answers ------------------------------------------------------------------------------------


def answer_link(*, token: str, raw: dict) -> SurveyResponse:
    """Store the answers given through a personal link, once."""
    link = open_link(token=token)
    _invalid, _expired, answered = _errors()
    try:
        with transaction.atomic():
            locked = SurveyLink.objects.select_for_update(of=("self",)).select_related("survey", "version", "member")
            locked = locked.get(pk=link.pk)
            _check_open(locked)
            response = _record(
                survey=locked.survey,
                version=locked.version,
                member=locked.member,
                raw=raw,
                channel=locked.channel or "web",
                token_id=f"link:{locked.nonce}",
                link=locked,
            )
            locked.used_at = response.created_at
            locked.save(update_fields=["used_at"])
    except IntegrityError:
        raise answered(_("This survey has already been answered. Thank you!")) from None
    transaction.on_commit(lambda: survey_answered.send(sender=SurveyResponse, response=response))
    return response


def answer_by_phone(*, survey: Survey, member: Member, raw: dict, staff) -> SurveyResponse:
    """Store the answers staff entered while talking to `member` (channel "phone", `staff` recorded)."""
    if not survey.is_active:
        raise SurveyClosed(_("This survey is closed."))
    with transaction.atomic():
        version = current_version(survey=survey)
        response = _record(
            survey=survey,
            version=version,
            member=member,
            raw=raw,
            channel="phone",
            token_id=f"phone:{secrets.token_urlsafe(18)}",
            staff=_user(staff),
        )
    transaction.on_commit(lambda: survey_answered.send(sender=SurveyResponse, response=response))
    return response


def _record(*, survey, version, member, raw, channel, token_id, link=None, staff=None) -> SurveyResponse:
    cleaned = survey_rules.clean_answers(version.definition, raw)
    if cleaned.errors:
        raise ValidationError({key: [message] for key, message in cleaned.errors.items()})
    if not cleaned.answers:
        raise ValidationError(_("Answer at least one question."))
    if member is not None and member.status == Member.Status.ERASED:
        member = None
    response = SurveyResponse.objects.create(
        kind=SurveyResponse.Kind.FORM,
        token_id=token_id,
        survey=survey,
        version=version,
        link=link,
        staff=staff,
        member=member,
        store=member.home_store if member else None,
        channel=channel,
    )
    kinds = {q["key"]: q["kind"] for q in version.definition["questions"]}
    rows = []
    for key, value in cleaned.answers.items():
        kind = kinds[key]
        if kind in survey_rules.NUMERIC:
            rows.append(SurveyAnswer(response=response, question_key=key, kind=kind, number=value))
        elif kind == "single":
            rows.append(SurveyAnswer(response=response, question_key=key, kind=kind, choice=value))
        elif kind == "multiple":
            rows.extend(SurveyAnswer(response=response, question_key=key, kind=kind, choice=c) for c in value)
        else:
            rows.append(SurveyAnswer(response=response, question_key=key, kind=kind, text=value))
    SurveyAnswer.objects.bulk_create(rows)
    if member is not None:
        texts = [v for k, v in cleaned.answers.items() if kinds[k] == "text"]
        with contextlib.suppress(member_services.MemberErased):
            member_services.add_interaction(
                member=member,
                kind=Interaction.Kind.SURVEY,
                channel=INTERACTION_CHANNELS.get(channel, Interaction.Channel.WEB),
                summary=Truncator(" / ".join(texts)).chars(200),
                summary_code=Summary.DESIGNED_SURVEY,
                summary_params={"survey": survey.name[:100]},
                store=response.store,
                actor=staff,
                direction=Interaction.Direction.OUTBOUND if channel == "phone" else Interaction.Direction.INBOUND,
            )
    return response
