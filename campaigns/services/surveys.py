"""`{{ survey_link }}`: a campaign's questionnaire (`Campaign.survey`) as a personal, signed,
single-use link for each member it goes to, made by `feedback` when the message is prepared.
Registered as a personal variable from `CampaignsConfig.ready`."""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _

from campaigns import personal_variables

log = logging.getLogger(__name__)

# As long as a real link can be (the public address and a signed token), for the SMS size check.
SAMPLE = "https://crm.example.com/survey/s/" + "x" * 112 + "/"


def survey_link(campaign, member) -> str:
    """The member's link to the campaign's survey; "" when the campaign has none."""
    if getattr(campaign, "survey_id", None) is None:
        return ""
    from feedback.services import questionnaires

    try:
        link = questionnaires.create_link(
            survey=campaign.survey, member=member, channel=campaign.channel, source=f"campaign:{campaign.pk}"
        )
    except questionnaires.SurveyClosed:
        # Closed after the campaign was launched: no link (its page would refuse it anyway); the
        # message still goes, as any variable without a value renders empty.
        log.warning("Campaign %s: survey %s is closed, {{ survey_link }} left empty", campaign.pk, campaign.survey_id)
        return ""
    return questionnaires.link_url(link)


def register() -> None:
    personal_variables.register(
        personal_variables.PersonalVariable(
            name="survey_link", label=_("Personal survey link"), sample=SAMPLE, resolve=survey_link
        )
    )
