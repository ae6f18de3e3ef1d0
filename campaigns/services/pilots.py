"""Pilot → expand: try a campaign on a sample first, then send it to the rest of the audience.

`launch_pilot` records the pilot rule (a random share, or one classification) and launches the
campaign; `start_campaign` resolves step 1 to that sample only. `expand_campaign`, once the
pilot has finished sending, adds step 2 for every audience member who has no outbox row in this
campaign yet (pilot recipients, their control group and skipped members all have one), and sends
it. The outbox's unique (step, member) row and the "no row yet in this campaign" filter together
mean nobody gets the campaign twice; a second expand is refused.
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import lock_objects, selectors
from campaigns.errors import InvalidTransition
from campaigns.models import Campaign, CampaignPilot, CampaignStep, Classification, OutboxMessage
from campaigns.services.campaigns import launch_campaign
from campaigns.services.dispatch import StartResult, fill_outbox, kick_dispatch

logger = logging.getLogger(__name__)


@transaction.atomic
def launch_pilot(
    *, campaign: Campaign, sample_pct: int | None = None, classification: str = "", actor=None, now=None
) -> Campaign:
    """Launch a draft as a pilot on `sample_pct` % of its audience, or on one classification."""
    errors = {}
    if bool(sample_pct) == bool(classification):
        errors["pilot"] = [_("Choose either a pilot share or a classification.")]
    elif sample_pct and not (isinstance(sample_pct, int) and 1 <= sample_pct <= 90):
        # xgettext:no-python-format
        errors["sample_pct"] = [_("The pilot share must be between 1% and 90%.")]
    elif classification and classification not in Classification.values:
        errors["classification"] = [_("Unknown classification “%(value)s”.") % {"value": classification}]
    if errors:
        raise ValidationError(errors)
    locked = lock_objects.campaign_for_update(campaign.pk)
    if locked.status != Campaign.Status.DRAFT:
        raise InvalidTransition(
            _("Only a draft can be launched; this campaign is %(status)s.") % {"status": locked.get_status_display()}
        )
    if locked.is_recurring:
        raise ValidationError({"pilot": [_("A recurring campaign cannot be launched as a pilot.")]})
    CampaignPilot.objects.update_or_create(
        campaign=locked, defaults={"sample_pct": sample_pct or None, "classification": classification or ""}
    )
    return launch_campaign(campaign=locked, actor=actor, now=now)


@transaction.atomic
def expand_campaign(*, campaign: Campaign, actor=None, now: datetime.datetime | None = None) -> StartResult:
    """Send a finished pilot to the rest of its audience (members with no message in it yet)."""
    now = now or timezone.now()
    locked = lock_objects.campaign_for_update(campaign.pk)
    pilot = CampaignPilot.objects.select_for_update().filter(campaign=locked).first()
    if pilot is None:
        raise InvalidTransition(_("This campaign was not launched as a pilot."))
    if pilot.expanded_at is not None:
        raise InvalidTransition(_("This pilot was already expanded."))
    if locked.status != Campaign.Status.COMPLETED:
        raise InvalidTransition(
            _("A pilot can be expanded once it has finished sending; this campaign is %(status)s.")
            % {"status": locked.get_status_display()}
        )
    if locked.end_at and locked.end_at <= now:
        raise ValidationError({"end_at": [_("“Send until” has already passed.")]})
    number = (locked.steps.order_by("-number").values_list("number", flat=True).first() or 1) + 1
    step = CampaignStep.objects.create(campaign=locked, number=number)
    contacted = OutboxMessage.objects.filter(campaign=locked, member_id=OuterRef("pk"))
    rest = selectors.audience_members(locked).filter(~Exists(contacted))
    result = fill_outbox(campaign=locked, step=step, members=rest, sample_pct=None, now=now)
    pilot.expanded_at = now
    pilot.save(update_fields=["expanded_at"])
    locked.status = Campaign.Status.SENDING
    locked.completed_at = None
    locked.save(update_fields=["status", "completed_at", "updated_at"])
    logger.info("campaign %s expanded by %s: %s more members", locked.pk, getattr(actor, "pk", None), result.audience)
    transaction.on_commit(kick_dispatch)
    return result
