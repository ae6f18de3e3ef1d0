"""The outbox: resolving a campaign's audience and sending each message at most once.

1. `start_campaign` (at `start_at`): one outbox row per (step, member) — the unique constraint
   makes a second row, and so a second send, impossible. The control group and members without
   consent are marked skipped in the same transaction, set-based. The rows are written by
   `outbox.add_messages`, which pilots, recurring runs and automations use too.
2. `claim_batch`: a worker leases up to N due pending rows (`FOR UPDATE SKIP LOCKED`, so workers
   never wait for or take each other's rows).
3. `prepare_message`, per row: re-check the contact policy under the row lock; a message held
   by quiet hours or by the channel's daily budget goes back to pending with `not_before`;
   otherwise it is marked `sending` and COMMITTED before the channel is called. `send_prepared`
   then records what the provider said: `sent` with its message id when it accepted;
   `failed` with its error code and reason when it refused; back to `pending` with a backoff
   (`not_before`) when it refused with an error it documents as temporary, until
   CAMPAIGN_MAX_SEND_ATTEMPTS tries; `in_doubt` when its answer was lost (never re-sent).
   The offer is settled only on `sent` or `failed`, never while a message waits for a retry.
4. `recover_expired_leases` (beat, every minute): leased pending rows whose lease expired are
   released; `sending` rows whose lease expired become `in_doubt` — the worker died after
   committing `sending`, so the message may have gone out: it is reported, never sent again.
Nothing relies on the broker redelivering a task.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import channels, lock_objects, provider_templates, recurrence, rules, selectors, tracking
from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage
from campaigns.errors import OfferNotIssued
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignPilot,
    CampaignStep,
    Channel,
    OutboxMessage,
    Repeat,
    SkipReason,
)
from campaigns.ratelimit import provider_of, take_daily_budget, wait_for_send_slot
from campaigns.services import automations, offers, outbox, receipts
from campaigns.templating import MessageContext, RenderedMessage, render_message
from loyalty_crm.errors import DomainError
from members import loyalty
from members.models import Member

logger = logging.getLogger(__name__)


def lease_length() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS)


# --- starting ----------------------------------------------------------------------------------


@dataclass
class StartResult:
    campaign_id: int
    audience: int
    control_group: int


@transaction.atomic
def start_campaign(*, campaign_id: int, now: datetime.datetime | None = None) -> StartResult | None:
    """scheduled → sending, once its start time has come: resolve the audience into the outbox.

    Safe to call twice or concurrently: the second call finds the campaign no longer scheduled
    (it waits for the first one's row lock) and does nothing.
    """
    now = now or timezone.now()
    campaign = lock_objects.campaign_for_update(campaign_id)
    if campaign.status != Campaign.Status.SCHEDULED or (campaign.start_at and campaign.start_at > now):
        return None
    if campaign.is_recurring:  # its beat entry runs it (campaigns.services.recurring)
        return None
    step, _created = CampaignStep.objects.get_or_create(campaign=campaign, number=1)
    members = selectors.audience_members(campaign)
    pilot = CampaignPilot.objects.filter(campaign=campaign).first()
    if pilot is not None and pilot.classification:  # a pilot on one classification (campaigns.services.pilots)
        members = members.filter(campaign_score__classification=pilot.classification)
    sample_pct = pilot.sample_pct if pilot is not None and pilot.sample_pct else None
    result = fill_outbox(campaign=campaign, step=step, members=members, sample_pct=sample_pct, now=now)
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = now
    campaign.save(update_fields=["status", "started_at", "updated_at"])
    logger.info(
        "campaign %s started: audience %s, control group %s", campaign.pk, result.audience, result.control_group
    )
    transaction.on_commit(kick_dispatch)
    return result


def fill_outbox(*, campaign: Campaign, step: CampaignStep, members, sample_pct: int | None, now) -> StartResult:
    """One outbox row per member of `members` for `step` (control group drawn, no-consent skipped,
    by `outbox.add_messages`). With `sample_pct`, only that random share of them (a pilot).
    Set-based; the caller holds the campaign's lock."""
    member_ids = members.order_by("pk").values_list("pk", flat=True)
    control = 0
    best = campaign.channel == CampaignChannel.BEST
    channel_of: dict[int, str] = {}

    def chosen_ids():
        """The member ids; for a best-channel campaign, each chunk's channels resolved on the way."""
        chunk: list[int] = []
        for member_id in member_ids.iterator(chunk_size=outbox.INSERT_BATCH):
            chunk.append(member_id)
            if len(chunk) >= outbox.INSERT_BATCH:
                if best:
                    channel_of.clear()
                    channel_of.update(selectors.best_channels(chunk))
                yield from chunk
                chunk = []
        if chunk:
            if best:
                channel_of.clear()
                channel_of.update(selectors.best_channels(chunk))
            yield from chunk

    def rows():
        nonlocal control
        for member_id in chosen_ids():
            if sample_pct and not rules.in_pilot_sample(campaign_id=campaign.pk, member_id=member_id, pct=sample_pct):
                continue
            held_back = rules.in_control_group(
                campaign_id=campaign.pk, member_id=member_id, pct=campaign.control_group_pct
            )
            control += held_back
            # A best-channel member nobody can reach gets the first channel in the order; its consent
            # check then counts them as skipped (no consent).
            channel = channel_of.get(member_id, rules.BEST_CHANNEL_ORDER[0]) if best else campaign.channel
            yield OutboxMessage(
                campaign=campaign,
                step=step,
                member_id=member_id,
                channel=channel,
                status=OutboxMessage.Status.SKIPPED if held_back else OutboxMessage.Status.PENDING,
                skip_reason=SkipReason.CONTROL_GROUP if held_back else "",
            )

    audience = outbox.add_messages(step=step, channel=campaign.channel, messages=rows(), now=now)
    return StartResult(campaign_id=campaign.pk, audience=audience, control_group=control)


def start_due_campaigns(*, now: datetime.datetime | None = None) -> list[int]:
    """Start every scheduled campaign whose start time has passed (beat, every minute)."""
    now = now or timezone.now()
    started = []
    for campaign_id in Campaign.objects.due(now).order_by("start_at", "pk").values_list("pk", flat=True):
        if start_campaign(campaign_id=campaign_id, now=now):
            started.append(campaign_id)
    return started


def kick_dispatch() -> None:
    """Enqueue dispatch batches (CAMPAIGN_DISPATCH_PARALLELISM of them, each re-enqueueing itself
    while it finds full batches). Best effort: the beat task resumes dispatch every minute."""
    from campaigns.tasks import dispatch_batch_task

    try:
        for _i in range(settings.CAMPAIGN_DISPATCH_PARALLELISM):
            dispatch_batch_task.delay()
    except Exception:
        logger.exception("could not enqueue campaign dispatch; the beat task will resume it")


# --- claiming and sending ----------------------------------------------------------------------


def _due(now: datetime.datetime):
    return (
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, campaign__status=Campaign.Status.SENDING)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
    )


@transaction.atomic
def claim_batch(*, owner: str, batch_size: int, now: datetime.datetime | None = None) -> list[int]:
    """Lease up to `batch_size` due pending messages to `owner` (rows other workers hold are skipped)."""
    now = now or timezone.now()
    ids = lock_objects.claimable_outbox_ids(_due(now), batch_size)
    if ids:
        OutboxMessage.objects.filter(pk__in=ids).update(
            lease_owner=owner, lease_expires_at=now + lease_length(), attempts=F("attempts") + 1, updated_at=now
        )
    return ids


@dataclass
class Decision:
    outcome: str  # "send", "skipped", "deferred", "failed", "lost"
    message: RenderedMessage | TemplateMessage | None = None
    address: str = ""
    member_no: str = ""
    channel: str = ""
    language: str = ""


def _skip(message: OutboxMessage, reason: str, now) -> Decision:
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SKIPPED, skip_reason=reason, lease_owner="", lease_expires_at=None, updated_at=now
    )
    return Decision("skipped")


def _fail(message: OutboxMessage, error: str, now, code: str = "") -> Decision:
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.FAILED, error=error[:300], error_code=code[:64], lease_owner="",
        lease_expires_at=None, updated_at=now,
    )  # fmt: skip
    return Decision("failed")


def address_of(member: Member, channel: str) -> str:
    """Where a message on `channel` goes: the email, the phone, or the bound WeChat openid."""
    if channel == Channel.EMAIL:
        return member.email or ""
    if channel == Channel.WECHAT:
        return member.wechat_openid or ""
    return member.phone or ""


def _no_address_reason(channel: str) -> str:
    if channel == Channel.EMAIL:
        return _("No email address")
    if channel == Channel.WECHAT:
        return _("No WeChat account bound")
    return _("No mobile number")


def _consent_reason(member: Member, channel: str) -> str | None:
    """None when the member consents to marketing on `channel`; otherwise why not."""
    topic = selectors.consent_topic(channel)
    if member.is_erased:
        return SkipReason.NO_CONSENT
    if member.consents.filter(topic=topic, granted=True).exists():
        return None
    if member.consent_events.filter(topic=topic, granted=True).exists():
        return SkipReason.OPTED_OUT
    return SkipReason.NO_CONSENT


def render_for(
    campaign: Campaign,
    member: Member,
    extra: dict | None = None,
    *,
    coupon_code: str = "",
    offer_points: int = 0,
) -> RenderedMessage:
    """The campaign's message as this member would receive it (also the admin preview); `extra`
    holds an automation's own variables, `coupon_code`/`offer_points` the campaign offer's. With a
    message template, its approved text with the member's values."""
    with translation.override(campaign.language):
        context = _context(member, extra, coupon_code=coupon_code, offer_points=offer_points)
        template = campaign.message_template
        if template is not None and campaign.channel != Channel.EMAIL:
            params = provider_templates.params_for(template.variables, context.as_dict())
            return RenderedMessage(subject="", text=provider_templates.fill(template.text, params))
        return render_message(subject=campaign.subject, body=campaign.body, context=context)


def message_for(
    campaign: Campaign,
    member: Member,
    extra: dict | None = None,
    *,
    coupon_code: str = "",
    offer_points: int = 0,
    channel: str = "",
) -> TemplateMessage:
    """What an SMS or WeChat provider is given: the campaign's message template with this member's
    values, or (SMS without a template, development) the rendered body as the text. A best-channel
    campaign's template serves the members whose channel is the template's."""
    with translation.override(campaign.language):
        context = _context(member, extra, coupon_code=coupon_code, offer_points=offer_points)
        template = campaign.message_template
        if template is not None and template.channel != (channel or campaign.channel):
            template = None
        if template is None:
            rendered = render_message(subject="", body=campaign.body, context=context)
            return TemplateMessage(template_code="", text=rendered.text)
        params = provider_templates.params_for(template.variables, context.as_dict())
        return TemplateMessage(
            template_code=template.provider_code,
            params=params,
            text=provider_templates.fill(template.text, params),
            sign_name=template.sign_name,
        )


def _context(member: Member, extra: dict | None, *, coupon_code: str, offer_points: int) -> MessageContext:
    snapshot = loyalty.snapshots([member])[member.pk]
    return MessageContext(
        name=member.name,
        member_no=member.member_no,
        points_balance=snapshot.points_balance,
        tier=snapshot.tier.name,
        extra=extra or {},
        coupon_code=coupon_code,
        offer_points=offer_points,
    )


@transaction.atomic
def prepare_message(*, message_id: int, owner: str, now: datetime.datetime | None = None) -> Decision:
    """Under the row lock: apply the contact policy and, when the message may go, mark it
    `sending` (committed when this returns, before anything is handed to the channel)."""
    now = now or timezone.now()
    message = lock_objects.outbox_message_for_update(message_id)
    if message is None or message.status != OutboxMessage.Status.PENDING or message.lease_owner != owner:
        return Decision("lost")  # cancelled, or the lease expired and another worker took it
    campaign, member = message.campaign, message.member
    if campaign.status != Campaign.Status.SENDING:
        return _skip(message, SkipReason.CANCELLED, now)
    policy = selectors.contact_policy()
    reason = _consent_reason(member, message.channel)
    if reason:
        return _skip(message, reason, now)
    reopens = rules.quiet_hours_end(now, start=policy.quiet_hours_start, end=policy.quiet_hours_end, tz=policy.timezone)
    if reopens is not None:
        if campaign.end_at and reopens > campaign.end_at:
            return _skip(message, SkipReason.QUIET_HOURS, now)
        OutboxMessage.objects.filter(pk=message.pk).update(
            not_before=reopens, lease_owner="", lease_expires_at=None, updated_at=now
        )
        return Decision("deferred")
    lock_objects.lock_member_contact(member.pk)
    since = now - datetime.timedelta(days=policy.frequency_cap_days)
    if selectors.recent_contacts(member.pk, since) >= policy.frequency_cap_messages:
        return _skip(message, SkipReason.FREQUENCY_CAP, now)
    address = address_of(member, message.channel)
    if not address:
        return _fail(message, _no_address_reason(message.channel), now, code="no_address")
    budget = policy.daily_budget_for(message.channel)
    if budget and not take_daily_budget(message.channel, budget, now=now):
        # Over today's budget: wait for the next day (Asia/Shanghai), unless the campaign ends first.
        tomorrow = rules.next_local_midnight(now)
        if campaign.end_at and tomorrow > campaign.end_at:
            return _fail(message, _("The channel's daily budget was used up before the campaign ended."), now,
                         code="daily_budget")  # fmt: skip
        OutboxMessage.objects.filter(pk=message.pk).update(
            not_before=tomorrow, lease_owner="", lease_expires_at=None, updated_at=now
        )
        return Decision("deferred")
    try:  # the campaign's coupon, if it offers one: issued once for this message (campaigns.services.offers)
        coupon = offers.coupon_for_message(message)
    except DomainError as exc:
        return _fail(message, _("The offer could not be given: %(error)s") % {"error": exc.detail}, now)
    try:
        with transaction.atomic():  # an automation's coupon is undone if the message cannot render
            extra = automations.before_send(message=message, now=now)
            offer = {"coupon_code": coupon.code if coupon else "", "offer_points": selectors.offer_points(campaign.pk)}
            if message.channel == Channel.EMAIL:
                rendered = render_for(campaign, member, extra, **offer)
            else:
                rendered = message_for(campaign, member, extra, channel=message.channel, **offer)
    except OfferNotIssued as exc:
        decision = _fail(message, str(exc), now)
        offers.settle_after_send(message_id=message.pk, sent=False)
        return decision
    except Exception as exc:  # a template that cannot render for this member
        decision = _fail(message, _("Template error: %(error)s") % {"error": type(exc).__name__}, now)
        offers.settle_after_send(message_id=message.pk, sent=False)
        return decision
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, sending_at=now, lease_expires_at=now + lease_length(), updated_at=now
    )
    return Decision(
        "send",
        message=rendered,
        address=address,
        member_no=member.member_no,
        channel=message.channel,
        language=campaign.language,
    )


def _yours(message_id: int, owner: str):
    """The message while it is this worker's send: `sending` under its lease (or `in_doubt`, if
    recovery gave up on a slow send that did complete)."""
    return OutboxMessage.objects.filter(
        pk=message_id, lease_owner=owner, status__in=[OutboxMessage.Status.SENDING, OutboxMessage.Status.IN_DOUBT]
    )


@transaction.atomic
def finish_message(
    *, message_id: int, owner: str, provider_ref: str = "", error: str = "", error_code: str = ""
) -> None:
    """sending (or in_doubt, see `_yours`) → sent (with the provider's message id) | failed (with
    its error code and reason); then the offer is settled in the same transaction (points
    credited, or the coupon voided)."""
    now = timezone.now()
    rows = _yours(message_id, owner)
    if error:
        changed = rows.update(status=OutboxMessage.Status.FAILED, error=error[:300], error_code=error_code[:64],
                              lease_owner="", lease_expires_at=None, updated_at=now)  # fmt: skip
    else:
        changed = rows.update(status=OutboxMessage.Status.SENT, sent_at=now, provider_ref=provider_ref[:100], error="",
                              error_code="", lease_owner="", lease_expires_at=None, updated_at=now)  # fmt: skip
    if changed:
        offers.settle_after_send(message_id=message_id, sent=not error)


@transaction.atomic
def retry_or_fail(*, message_id: int, owner: str, error: str, error_code: str, now=None) -> str:
    """A temporary refusal: back to pending with `not_before` = now + backoff (1, 5, 25 minutes…),
    the offer left as it is (the retry reuses its coupon); after CAMPAIGN_MAX_SEND_ATTEMPTS tries,
    failed (and the offer settled as failed). Returns "retried" or "failed"."""
    now = now or timezone.now()
    message = lock_objects.outbox_message_for_update(message_id)
    if (
        message is None
        or message.lease_owner != owner
        or message.status not in (OutboxMessage.Status.SENDING, OutboxMessage.Status.IN_DOUBT)
    ):  # a refused message did not go out: even one recovery gave up on may be tried again
        return "lost"
    if message.retries + 1 >= settings.CAMPAIGN_MAX_SEND_ATTEMPTS:
        finish_message(message_id=message_id, owner=owner, error=error, error_code=error_code)
        return "failed"
    OutboxMessage.objects.filter(pk=message_id).update(
        status=OutboxMessage.Status.PENDING, retries=F("retries") + 1,
        not_before=now + rules.retry_backoff(message.retries), sending_at=None, error=error[:300],
        error_code=error_code[:64], lease_owner="", lease_expires_at=None, updated_at=now,
    )  # fmt: skip
    return "retried"


@transaction.atomic
def mark_in_doubt(*, message_id: int, owner: str, error_code: str = "") -> str:
    """The provider's answer was lost: in doubt, never sent again (the offer is not settled)."""
    _yours(message_id, owner).update(
        status=OutboxMessage.Status.IN_DOUBT, error_code=error_code[:64], lease_owner="", lease_expires_at=None,
        updated_at=timezone.now(),
    )  # fmt: skip
    return "in_doubt"


def send_prepared(*, message_id: int, owner: str, decision: Decision) -> str:
    """Hand a prepared message to its channel and record what the provider said: "sent",
    "failed", "retried" (a temporary refusal) or "in_doubt" (the answer was lost)."""
    reference = f"outbox-{message_id}"
    try:
        with translation.override(decision.language or None):
            provider_ref = _send(decision, reference, message_id)
    except ChannelInDoubt as exc:
        logger.warning("outbox message %s in doubt: %s", message_id, exc.code)
        return mark_in_doubt(message_id=message_id, owner=owner, error_code=exc.code)
    except ChannelError as exc:
        logger.warning("outbox message %s refused: %s (temporary: %s)", message_id, exc.code, exc.temporary)
        if exc.temporary:
            return retry_or_fail(message_id=message_id, owner=owner, error=exc.reason, error_code=exc.code)
        finish_message(message_id=message_id, owner=owner, error=exc.reason, error_code=exc.code)
        return "failed"
    except Exception as exc:  # the channel broke in a way it does not document: failed, never retried
        logger.warning("outbox message %s failed: %s", message_id, type(exc).__name__)
        finish_message(message_id=message_id, owner=owner, error=str(exc) or type(exc).__name__)
        return "failed"
    finish_message(message_id=message_id, owner=owner, provider_ref=provider_ref or "")
    if provider_ref:  # a receipt that came before the id was stored waits in EarlyReceipt
        receipts.apply_early_receipts(channel=decision.channel, provider_refs=[provider_ref])
    return "sent"


def _send(decision: Decision, reference: str, message_id: int) -> str:
    if decision.channel == Channel.EMAIL:  # links and an open pixel, signed per message (campaigns.tracking)
        return channels.send_email(
            address=decision.address,
            message=tracking.tracked(decision.message, message_id=message_id),
            member_no=decision.member_no,
            reference=reference,
        )
    if decision.channel == Channel.WECHAT:
        return _send_wechat(openid=decision.address, message=decision.message, reference=reference)
    return channels.send_sms(phone=decision.address, message=decision.message, reference=reference)


def _send_wechat(*, openid: str, message: TemplateMessage, reference: str) -> str:
    if not message.template_code:
        raise ChannelError("no_template", _("A WeChat message needs an approved WeChat template."))
    try:  # the WeChat provider (campaigns.channels.wechat) is imported when first used
        from campaigns.channels.wechat import send_wechat
    except ImportError as exc:
        raise ChannelError("wechat_unavailable", _("The WeChat channel is not set up.")) from exc
    return send_wechat(openid=openid, message=message, reference=reference)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    lost: int = 0
    retried: int = 0
    in_doubt: int = 0


def dispatch_batch(*, owner: str, batch_size: int | None = None) -> BatchResult:
    """Claim a batch and send it, message by message, respecting each channel's send rate."""
    batch_size = batch_size or settings.CAMPAIGN_BATCH_SIZE
    result = BatchResult()
    ids = claim_batch(owner=owner, batch_size=batch_size)
    result.claimed = len(ids)
    policy = selectors.contact_policy()
    for message_id in ids:
        channel = OutboxMessage.objects.filter(pk=message_id).values_list("channel", flat=True).first()
        if channel is None:
            result.lost += 1
            continue
        wait_for_send_slot(channel, policy.rate_for(channel), provider=provider_of(channel))
        decision = prepare_message(message_id=message_id, owner=owner)
        if decision.outcome == "send":
            outcome = send_prepared(message_id=message_id, owner=owner, decision=decision)
        else:
            outcome = decision.outcome
        setattr(result, outcome, getattr(result, outcome) + 1)
    complete_finished_campaigns()
    return result


# --- recovery and completion ------------------------------------------------------------------


@dataclass
class RecoveryResult:
    released: int
    in_doubt: int
    completed: list[int]


@transaction.atomic
def recover_expired_leases(*, now: datetime.datetime | None = None) -> RecoveryResult:
    """Release pending rows whose worker's lease expired; mark expired `sending` rows `in_doubt`."""
    now = now or timezone.now()
    released = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, lease_expires_at__lt=now).update(
        lease_owner="", lease_expires_at=None, updated_at=now
    )
    in_doubt = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENDING, lease_expires_at__lt=now).update(
        status=OutboxMessage.Status.IN_DOUBT, lease_expires_at=None, updated_at=now
    )
    if released or in_doubt:
        logger.warning("outbox recovery: %s released to pending, %s in doubt", released, in_doubt)
    receipts.apply_early_receipts(now=now)
    return RecoveryResult(released=released, in_doubt=in_doubt, completed=complete_finished_campaigns(now=now))


def complete_finished_campaigns(*, now: datetime.datetime | None = None) -> list[int]:
    """sending → completed for every campaign with nothing pending or sending left. A recurring
    campaign only once its last day ("repeat until") has passed — also if it never ran — and its
    beat entry is then disabled."""
    now = now or timezone.now()
    today = recurrence.local_date(now)
    unfinished = OutboxMessage.objects.filter(
        campaign_id=OuterRef("pk"), status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING]
    )
    ended = Q(repeat=Repeat.ONCE, status=Campaign.Status.SENDING) | (
        ~Q(repeat=Repeat.ONCE)
        & Q(repeat_until__lt=today, status__in=[Campaign.Status.SCHEDULED, Campaign.Status.SENDING])
    )
    # An automation's campaign keeps sending while it exists: its trigger adds messages any day.
    finished = Campaign.objects.filter(ended, automation__isnull=True).filter(~Exists(unfinished))
    rows = list(finished.values_list("pk", "repeat"))
    ids = [pk for pk, _repeat in rows]
    if ids:
        Campaign.objects.filter(ended, pk__in=ids).filter(~Exists(unfinished)).update(
            status=Campaign.Status.COMPLETED, completed_at=now, updated_at=now
        )
        recurring_ids = [pk for pk, repeat in rows if repeat != Repeat.ONCE]
        if recurring_ids:
            from campaigns.services.recurring import disable_beat_entries

            disable_beat_entries(recurring_ids)
    return ids
