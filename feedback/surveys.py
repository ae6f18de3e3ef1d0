"""Satisfaction surveys: CSAT after a resolved ticket, NPS for members who consented.

A CSAT link is answered only while its ticket is resolved or closed: before that (a link made
early, or the ticket reopened since) the page says the ticket is not resolved yet (409) and stores
nothing.

Links carry a signed, salted, time-stamped token (django.core.signing): a changed character is
refused, an old link (FEEDBACK_SURVEY_MAX_AGE_DAYS) has expired, and each link records one answer
— `SurveyResponse.token_id` is unique, so two answers sent at once still store one.

The NPS part is the hook campaigns use: `nps_survey_link()`, `send_nps_survey()` and
`resolved_tickets()` (which tickets to follow up with a survey).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback.models import Survey, SurveyAnswer, SurveyResponse, Ticket, TicketEvent
from feedback.services import FeedbackError, public_url
from feedback.services.questionnaires import current_version
from feedback.signals import survey_answered
from members import services as member_services
from members.models import ConsentTopic, Interaction, Member
from members.summaries import Summary

log = logging.getLogger(__name__)

CSAT_SALT = "feedback.survey.csat"
NPS_SALT = "feedback.survey.nps"
MAX_COMMENT_LENGTH = 1000
SCORES = {SurveyResponse.Kind.CSAT: range(1, 6), SurveyResponse.Kind.NPS: range(0, 11)}
# Marketing consent each NPS channel needs (members' consent topics).
NPS_CHANNELS = {
    "email": ConsentTopic.MARKETING_EMAIL,
    "sms": ConsentTopic.MARKETING_SMS,
    "wechat": ConsentTopic.MARKETING_WECHAT,
}


class SurveyLinkInvalid(FeedbackError):
    code = "survey_link_invalid"


class SurveyLinkExpired(FeedbackError):
    code = "survey_link_expired"


class SurveyAlreadyAnswered(FeedbackError):
    code = "survey_already_answered"


class SurveyTicketNotResolved(FeedbackError):
    """A CSAT link for a ticket that is not (or no longer) resolved or closed: there is nothing to rate yet."""

    code = "survey_ticket_not_resolved"


def max_age() -> datetime.timedelta:
    return datetime.timedelta(days=getattr(settings, "FEEDBACK_SURVEY_MAX_AGE_DAYS", 14))


# --- links ------------------------------------------------------------------------------------


def csat_token(ticket: Ticket) -> str:
    return signing.dumps({"t": ticket.ticket_no}, salt=CSAT_SALT)


def csat_survey_link(ticket: Ticket) -> str:
    return public_url(reverse("feedback:survey", args=[csat_token(ticket)]))


def nps_survey_link(*, member: Member, channel: str = "email") -> str:
    """A fresh single-use NPS link for `member` (each call makes a new link). Part of the hook."""
    token = signing.dumps({"m": member.member_no, "n": secrets.token_urlsafe(12), "c": channel}, salt=NPS_SALT)
    return public_url(reverse("feedback:nps_survey", args=[token]))


@dataclass(frozen=True)
class ResolvedTicket:
    ticket_no: str
    member_id: int
    resolved_at: datetime.datetime


def resolved_tickets(*, start: datetime.datetime, end: datetime.datetime) -> list[ResolvedTicket]:
    """Tickets linked to a member, resolved in [start, end) and still resolved or closed (a
    reopened ticket has no resolution time), oldest first. Part of the hook: the post-resolution
    survey automation reads it."""
    rows = (
        Ticket.objects.filter(
            member__isnull=False,
            status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED],
            resolved_at__gte=start,
            resolved_at__lt=end,
        )
        .order_by("resolved_at", "pk")
        .values_list("ticket_no", "member_id", "resolved_at")
    )
    return [ResolvedTicket(ticket_no=no, member_id=member_id, resolved_at=at) for no, member_id, at in rows]


@dataclass(frozen=True)
class SurveyInvite:
    kind: str
    token_id: str
    ticket: Ticket | None = None
    member: Member | None = None
    channel: str = ""

    @property
    def scores(self) -> range:
        return SCORES[self.kind]


def open_survey(*, token: str, kind: str) -> SurveyInvite:
    """Check a survey link: SurveyLinkInvalid (changed or unknown), SurveyLinkExpired,
    SurveyTicketNotResolved (CSAT for a ticket not resolved or closed) or SurveyAlreadyAnswered;
    otherwise what the survey is about."""
    salt = CSAT_SALT if kind == SurveyResponse.Kind.CSAT else NPS_SALT
    try:
        data = signing.loads(token, salt=salt, max_age=max_age())
    except signing.SignatureExpired:
        raise SurveyLinkExpired(_("This survey link has expired.")) from None
    except (signing.BadSignature, ValueError):
        raise SurveyLinkInvalid(_("This survey link is not valid.")) from None
    if not isinstance(data, dict):
        raise SurveyLinkInvalid(_("This survey link is not valid."))
    if kind == SurveyResponse.Kind.CSAT:
        ticket = Ticket.objects.select_related("member", "store").filter(ticket_no=data.get("t")).first()
        if ticket is None:
            raise SurveyLinkInvalid(_("This survey link is not valid."))
        if not ticket.is_done:
            # Only a resolved (or since closed) ticket is rated; a reopened one waits for its resolution.
            raise SurveyTicketNotResolved(_("This ticket is not resolved yet."))
        invite = SurveyInvite(
            kind=kind, token_id=f"csat:{ticket.ticket_no}", ticket=ticket, member=ticket.member, channel="email"
        )
    else:
        member = Member.objects.select_related("home_store").filter(member_no=data.get("m")).first()
        nonce = str(data.get("n") or "")
        if member is None or not nonce:
            raise SurveyLinkInvalid(_("This survey link is not valid."))
        invite = SurveyInvite(
            kind=kind, token_id=f"nps:{nonce}"[:80], member=member, channel=str(data.get("c") or "")[:10]
        )
    if SurveyResponse.objects.filter(token_id=invite.token_id).exists():
        raise SurveyAlreadyAnswered(_("This survey has already been answered. Thank you!"))
    return invite


# --- answers ----------------------------------------------------------------------------------


def record_survey_response(*, token: str, kind: str, score, comment: str = "") -> SurveyResponse:
    """Store one answer to a survey link, once. Also recorded as an interaction on the member's
    profile (when the survey is linked to a member) and, for CSAT, in the ticket's history."""
    invite = open_survey(token=token, kind=kind)
    errors = {}
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = None
    if score not in invite.scores:
        errors["score"] = [
            _("Choose a score from %(low)d to %(high)d.") % {"low": invite.scores[0], "high": invite.scores[-1]}
        ]
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = [
            _("The comment has %(count)s characters; at most %(limit)s are accepted.")
            % {"count": len(comment), "limit": MAX_COMMENT_LENGTH}
        ]
    if errors:
        raise ValidationError(errors)
    member = invite.member if invite.member and invite.member.status != Member.Status.ERASED else None
    if invite.ticket is not None:
        store = invite.ticket.store
    else:
        store = member.home_store if member else None
    try:
        with transaction.atomic():
            survey = Survey.objects.filter(builtin=kind).first()
            version = current_version(survey=survey) if survey else None
            response = SurveyResponse.objects.create(
                kind=kind,
                survey=survey,
                version=version,
                token_id=invite.token_id,
                ticket=invite.ticket,
                member=member,
                store=store,
                channel=invite.channel,
                score=score,
                comment=comment,
            )
            _record_answers(response)
            _record_elsewhere(response)
    except IntegrityError:
        # Another answer to the same link was stored a moment earlier (the unique token id).
        raise SurveyAlreadyAnswered(_("This survey has already been answered. Thank you!")) from None
    transaction.on_commit(lambda: survey_answered.send(sender=SurveyResponse, response=response))
    return response


def _record_answers(response: SurveyResponse) -> None:
    """The score and comment as answers of the built-in survey, so its results read like any other's."""
    if response.survey_id is None:
        return
    rows = [SurveyAnswer(response=response, question_key="score", kind=response.kind, number=response.score)]
    if response.comment:
        rows.append(SurveyAnswer(response=response, question_key="comment", kind="text", text=response.comment))
    SurveyAnswer.objects.bulk_create(rows)


def _record_elsewhere(response: SurveyResponse) -> None:
    """The answer in the ticket's history (CSAT) and the member's interactions, as codes with the
    customer's comment as typed: each reader sees the sentence in their own language."""
    comment = response.comment
    if response.kind == SurveyResponse.Kind.CSAT:
        params = {"no": response.ticket.ticket_no, "score": response.score}
        TicketEvent.objects.create(
            ticket=response.ticket,
            kind=TicketEvent.Kind.SURVEY,
            body_code=TicketEvent.Text.SURVEY_ANSWERED,
            body_params=params,
            body=comment,
        )
        interaction_kind, code = Interaction.Kind.OTHER, Summary.SATISFACTION_SURVEY
    else:
        params = {"score": response.score}
        interaction_kind, code = Interaction.Kind.CAMPAIGN_RESPONSE, Summary.RECOMMENDATION_SURVEY
    if response.member is not None:
        # An erased member's profile takes no new records; the answer itself still counts.
        with contextlib.suppress(member_services.MemberErased):
            member_services.add_interaction(
                member=response.member,
                kind=interaction_kind,
                channel=Interaction.Channel.WEB,
                summary=Truncator(comment).chars(500),
                summary_code=code,
                summary_params=params,
                store=response.store,
            )


# --- sending ----------------------------------------------------------------------------------


def send_csat_survey(*, ticket_id: int) -> bool:
    """Email the CSAT link for a resolved ticket (called on commit of the resolution). Not sent
    when the ticket has no email, is no longer resolved, or was already rated. Never raises: a
    mail failure is logged and the ticket stays resolved."""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None or not ticket.email or ticket.status != Ticket.Status.RESOLVED:
        return False
    if SurveyResponse.objects.filter(token_id=f"csat:{ticket.ticket_no}").exists():
        return False
    link = csat_survey_link(ticket)
    with translation.override(ticket.language or settings.LANGUAGE_CODE):
        subject = _("How did we do? Your feedback %(no)s") % {"no": ticket.ticket_no}
        body = "\n\n".join(
            [
                _("Your feedback %(no)s has been resolved. Please tell us how satisfied you are:")
                % {"no": ticket.ticket_no},
                link,
                _("The link works once and for %(days)d days.") % {"days": max_age().days},
            ]
        )
    try:
        EmailMessage(subject=subject, body=body, to=[ticket.email]).send()
    except Exception as error:  # SMTP and connection errors of any backend
        log.warning("Survey for ticket %s not sent: %s", ticket.ticket_no, error)
        return False
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.SURVEY, body_code=TicketEvent.Text.SURVEY_SENT, at=timezone.now()
    )
    return True


@dataclass(frozen=True)
class NpsSendResult:
    sent: bool
    reason: str  # "sent", "no_consent", "no_address", "erased"
    link: str = ""


Deliver = Callable[[Member, str], None]


def send_nps_survey(
    *, member: Member, channel: str, deliver: Deliver | None = None, language: str = "zh-hans"
) -> NpsSendResult:
    """Invite a member to the NPS survey — only when they consented to marketing on `channel`.

    The hook campaigns use. `channel` is "email", "sms" or "wechat"; consent is read through
    `members.services.consent_state`. Email goes out through Django's mail framework; SMS and
    WeChat need `deliver(member, text)` from the caller (campaigns' channels). Returns whether it
    was sent and why not.
    """
    if channel not in NPS_CHANNELS:
        raise ValidationError({"channel": [_("“%(value)s” is not a survey channel.") % {"value": channel}]})
    if member.status == Member.Status.ERASED:
        return NpsSendResult(sent=False, reason="erased")
    if not member_services.consent_state(member).get(NPS_CHANNELS[channel]):
        return NpsSendResult(sent=False, reason="no_consent")
    if channel == "email" and not member.email:
        return NpsSendResult(sent=False, reason="no_address")
    if channel != "email" and deliver is None:
        raise ValueError(f"send_nps_survey(channel={channel!r}) needs deliver=, the caller's channel sender")
    link = nps_survey_link(member=member, channel=channel)
    with translation.override(language):
        text = _("How likely are you to recommend us to a friend? Tell us in one click: %(link)s") % {"link": link}
        subject = _("Would you recommend us?")
    if channel == "email":
        EmailMessage(subject=subject, body=text, to=[member.email]).send()
    else:
        deliver(member, text)
    return NpsSendResult(sent=True, reason="sent", link=link)
