"""Campaign lifecycle: draft → scheduled → sending → completed, or cancelled.

Every transition happens here, under the campaign's row lock; the admin, the API and the tasks
call these functions and nothing else changes a campaign's status.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import lock_objects, personal_variables, recurrence
from campaigns.errors import CampaignNotEditable, InvalidTransition, TemplateRequired
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignStep,
    Channel,
    MessageTemplate,
    OutboxMessage,
    Repeat,
    Segment,
    SkipReason,
)
from campaigns.services import offers, recurring
from campaigns.templating import check_templates

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (
    "name", "channel", "message_template", "language", "subject", "body", "segment", "start_at", "end_at",
    "control_group_pct", "repeat", "repeat_time", "repeat_weekday", "repeat_day", "repeat_until", "survey",
)  # fmt: skip
SCHEDULE_FIELDS = ("repeat_time", "repeat_weekday", "repeat_day", "repeat_until")
# The parts of a schedule (campaigns.recurrence, the API's `recurrence`) → the campaign's fields.
SCHEDULE_PARTS = {
    "frequency": "repeat", "time": "repeat_time", "weekday": "repeat_weekday", "day": "repeat_day",
    "until": "repeat_until",
}  # fmt: skip


@dataclass
class CampaignSaved:
    campaign: Campaign
    warnings: list[str] = field(default_factory=list)


def validate_campaign(values: dict) -> list[str]:
    """Check a campaign's fields together; ValidationError names each bad field. Returns warnings."""
    errors: dict[str, list[str]] = {}
    if not (values.get("name") or "").strip():
        errors["name"] = [_("Enter a name for the campaign.")]
    channel = values.get("channel")
    template = values.get("message_template")
    if channel not in CampaignChannel.values:
        errors["channel"] = [_("Choose email, SMS, WeChat or the best channel for each member.")]
    if template is not None:
        if channel == Channel.EMAIL:
            errors["message_template"] = [_("An email campaign does not use a message template.")]
        elif channel in (Channel.SMS, Channel.WECHAT) and template.channel != channel:
            errors["message_template"] = [
                _("This is a %(template_channel)s template; choose a %(channel)s template.")
                % {"template_channel": template.get_channel_display(), "channel": CampaignChannel(channel).label}
            ]
    elif channel == Channel.WECHAT:
        errors["message_template"] = [_("A WeChat campaign needs a message template (the approved WeChat template).")]
    templated = template is not None and channel in (Channel.SMS, Channel.WECHAT)
    if not (values.get("body") or "").strip() and not templated:
        errors["body"] = [_("Write the message.")]
    if values.get("channel") == Channel.EMAIL and not (values.get("subject") or "").strip():
        errors["subject"] = [_("An email needs a subject.")]
    pct = values.get("control_group_pct") or 0
    if not 0 <= pct <= 90:
        # xgettext:no-python-format
        errors["control_group_pct"] = [_("The control group can be at most 90% of the audience.")]
    start_at, end_at = values.get("start_at"), values.get("end_at")
    if start_at and end_at and end_at <= start_at:
        errors["end_at"] = [_("“Send until” must be after the start.")]
    repeat = values.get("repeat") or Repeat.ONCE
    if repeat != Repeat.ONCE:
        problems = recurrence.check_schedule(
            frequency=repeat,
            time=values.get("repeat_time"),
            weekday=values.get("repeat_weekday"),
            day=values.get("repeat_day"),
            until=values.get("repeat_until"),
            starts_on=recurrence.local_date(start_at) if start_at else None,
        )
        for part, messages in problems.items():
            errors.setdefault(SCHEDULE_PARTS[part], []).extend(messages)
        if end_at:
            errors.setdefault("end_at", []).append(
                _("A recurring campaign ends with “Repeat until”; leave “Send until” empty.")
            )
    warnings: list[str] = []
    try:
        warnings = check_templates(subject=values.get("subject") or "", body=values.get("body") or "")
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    survey = values.get("survey")
    uses_link = "survey_link" in personal_variables.used_by(values.get("subject") or "", values.get("body") or "")
    if survey is not None and not survey.is_active and uses_link:
        errors.setdefault("survey", []).append(_("This survey is closed; choose an active one."))
    if uses_link and survey is None:
        warnings.append(_("The message uses {{ survey_link }} but no survey is chosen: the link will be empty."))
    if errors:
        raise ValidationError(errors)
    return warnings


@transaction.atomic
def create_campaign(
    *,
    name: str,
    channel: str,
    body: str = "",
    subject: str = "",
    message_template: MessageTemplate | None = None,
    segment: Segment | None = None,
    start_at: datetime.datetime | None = None,
    end_at: datetime.datetime | None = None,
    control_group_pct: int = 0,
    language: str = "zh-hans",
    repeat: str = Repeat.ONCE,
    repeat_time: datetime.time | None = None,
    repeat_weekday: int | None = None,
    repeat_day: int | None = None,
    repeat_until: datetime.date | None = None,
    survey=None,
    actor=None,
) -> CampaignSaved:
    """Create a draft with its first step. Template errors are refused; fields no member has are
    returned as warnings (they render empty). `repeat` other than "once" makes it recurring
    (`campaigns.services.recurring`)."""
    values = {
        "name": name, "channel": channel, "body": body or "", "subject": subject or "", "segment": segment,
        "message_template": message_template,
        "start_at": start_at, "end_at": end_at, "control_group_pct": control_group_pct or 0, "language": language,
        "repeat": repeat or Repeat.ONCE, "repeat_time": repeat_time, "repeat_weekday": repeat_weekday,
        "repeat_day": repeat_day, "repeat_until": repeat_until, "survey": survey,
    }  # fmt: skip
    _normalise_schedule(values)
    warnings = validate_campaign(values)
    values["name"] = values["name"].strip()
    campaign = Campaign.objects.create(created_by=actor, **values)
    CampaignStep.objects.create(campaign=campaign, number=1)
    return CampaignSaved(campaign=campaign, warnings=warnings)


class OfferRefused(ValidationError):
    """The offer given with a new campaign was refused; its errors name the offer's fields."""


@transaction.atomic
def create_campaign_with_offer(*, offer: dict | None = None, actor=None, **fields) -> CampaignSaved:
    """`create_campaign` and, when `offer` is given (`{kind, coupon_template, points}`), its offer
    through `campaigns.services.offers.set_offer` — both or neither. A refused offer raises OfferRefused
    (nothing is kept)."""
    saved = create_campaign(actor=actor, **fields)
    if offer is not None:
        try:
            offers.set_offer(
                campaign=saved.campaign,
                actor=actor,
                kind=offer["kind"],
                coupon_template=offer.get("coupon_template"),
                points=offer.get("points") or 0,
            )
        except ValidationError as exc:
            raise OfferRefused(exc.message_dict) from exc
    return saved


@transaction.atomic
def update_campaign(*, campaign: Campaign, actor=None, **changes) -> CampaignSaved:
    """Change a draft (only a draft: what is scheduled or sent stays as it was launched)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    locked = lock_objects.campaign_for_update(campaign.pk)
    if locked.status != Campaign.Status.DRAFT:
        raise CampaignNotEditable(_("Only a draft can be edited; this campaign is %(status)s.") % {
            "status": locked.get_status_display()
        })  # fmt: skip
    values = {name: getattr(locked, name) for name in EDITABLE_FIELDS}
    values.update(changes)
    _normalise_schedule(values)
    warnings = validate_campaign(values)
    for name in EDITABLE_FIELDS:
        value = values[name]
        setattr(locked, name, value.strip() if name == "name" else value)
    locked.save()
    return CampaignSaved(campaign=locked, warnings=warnings)


def _normalise_schedule(values: dict) -> None:
    """A one-off campaign keeps no schedule; a schedule keeps only the parts its frequency uses."""
    repeat = values.get("repeat") or Repeat.ONCE
    values["repeat"] = repeat
    if repeat == Repeat.ONCE:
        values.update(dict.fromkeys(SCHEDULE_FIELDS))
    elif repeat == Repeat.DAILY:
        values["repeat_weekday"] = values["repeat_day"] = None
    elif repeat == Repeat.WEEKLY:
        values["repeat_day"] = None
    elif repeat == Repeat.MONTHLY:
        values["repeat_weekday"] = None


@transaction.atomic
def launch_campaign(*, campaign: Campaign, actor=None, now: datetime.datetime | None = None) -> Campaign:
    """draft → scheduled. It starts at `start_at`, or at once when that is empty or past."""
    now = now or timezone.now()
    locked = lock_objects.campaign_for_update(campaign.pk)
    if locked.status != Campaign.Status.DRAFT:
        raise InvalidTransition(
            _("Only a draft can be launched; this campaign is %(status)s.") % {"status": locked.get_status_display()}
        )
    validate_campaign({name: getattr(locked, name) for name in EDITABLE_FIELDS})
    check_sendable(locked)
    if locked.end_at and locked.end_at <= now:
        raise ValidationError({"end_at": [_("“Send until” has already passed.")]})
    if locked.repeat_until and locked.repeat_until < recurrence.local_date(now):
        raise ValidationError({"repeat_until": [_("“Repeat until” has already passed.")]})
    locked.status = Campaign.Status.SCHEDULED
    locked.start_at = locked.start_at or now
    locked.launched_at = now
    locked.save(update_fields=["status", "start_at", "launched_at", "updated_at"])
    logger.info("campaign %s launched by %s, starts %s", locked.pk, getattr(actor, "pk", None), locked.start_at)
    if locked.is_recurring:  # django-celery-beat runs it on its schedule, from its start on
        recurring.schedule_beat_entry(campaign=locked)
    elif locked.start_at <= now:
        campaign_id = locked.pk
        transaction.on_commit(lambda: _enqueue_start(campaign_id))
    return locked


REAL_SMS_PROVIDERS = ("aliyun", "tencent")  # they send only templates they approved


def sms_provider_is_real() -> bool:
    """Whether SMS goes through a real provider (not the development log provider)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from campaigns.channels import DatabaseSmsProvider, sms_provider_path

    try:
        provider = import_string(sms_provider_path(settings.SMS_PROVIDER))
    except ImportError:
        return True
    if isinstance(provider, type) and issubclass(provider, DatabaseSmsProvider):
        return False
    return getattr(provider, "name", "") in REAL_SMS_PROVIDERS


def default_sms_sign_name() -> str:
    """The signature the configured SMS provider adds when a template names none."""
    from django.conf import settings

    provider = str(settings.SMS_PROVIDER)
    return {"aliyun": settings.ALIYUN_SMS_SIGN_NAME, "tencent": settings.TENCENT_SMS_SIGN_NAME}.get(provider, "")


def check_sendable(campaign: Campaign) -> None:
    """TemplateRequired when the campaign cannot be sent as it is: an SMS campaign through a real
    provider or a WeChat campaign without an approved message template."""
    if campaign.message_template_id:
        return
    if campaign.channel == Channel.WECHAT:
        raise TemplateRequired(_("Choose an approved WeChat template before launching."))
    if campaign.channel == Channel.SMS and sms_provider_is_real():
        raise TemplateRequired(_("Choose an approved SMS template: the SMS provider sends only templates it approved."))


def _enqueue_start(campaign_id: int) -> None:
    """Start now rather than at the next beat tick; if the broker is down, beat starts it within a minute."""
    from campaigns.tasks import start_campaign_task

    try:
        start_campaign_task.delay(campaign_id)
    except Exception:  # the beat task "Start due campaigns" is the backstop
        logger.exception("could not enqueue the start of campaign %s", campaign_id)


@transaction.atomic
def cancel_campaign(*, campaign: Campaign, actor=None, now: datetime.datetime | None = None) -> Campaign:
    """draft, scheduled or sending → cancelled. Messages not yet sent are skipped ("cancelled");
    a message already being handed to the channel finishes and is counted as it ends."""
    now = now or timezone.now()
    locked = lock_objects.campaign_for_update(campaign.pk)
    if locked.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
        raise InvalidTransition(
            _("This campaign is already %(status)s and cannot be cancelled.") % {"status": locked.get_status_display()}
        )
    locked.status = Campaign.Status.CANCELLED
    locked.cancelled_at = now
    locked.save(update_fields=["status", "cancelled_at", "updated_at"])
    recurring.disable_beat_entries([locked.pk])
    OutboxMessage.objects.filter(campaign=locked, status=OutboxMessage.Status.PENDING).update(
        status=OutboxMessage.Status.SKIPPED,
        skip_reason=SkipReason.CANCELLED,
        lease_owner="",
        lease_expires_at=None,
        updated_at=now,
    )
    logger.info("campaign %s cancelled by %s", locked.pk, getattr(actor, "pk", None))
    return locked
