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
   `dispatch_batch` reads once per claimed batch what every message needs (`BatchContext`: the
   policy, the offers, the loyalty snapshots); per channel it takes send-rate slots a block at a
   time (one `incr` each), prepares that many messages (each committed `sending` on its own, as
   above), hands them to the channel side by side (CAMPAIGN_SEND_THREADS threads, for providers
   that say `concurrent_sends`; else one at a time) and records the answers — the accepted sends
   of campaigns without an offer in one statement.
4. `recover_expired_leases` (beat, every minute): leased pending rows whose lease expired are
   released; `sending` rows whose lease expired become `in_doubt` — the worker died after
   committing `sending`, so the message may have gone out: it is reported, never sent again.
Nothing relies on the broker redelivering a task.
"""

from __future__ import annotations

import datetime
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import (
    _sql,
    channels,
    lock_objects,
    personal_variables,
    provider_templates,
    recurrence,
    rules,
    selectors,
    tracking,
)
from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage
from campaigns.errors import OfferNotIssued
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignOffer,
    CampaignPilot,
    CampaignStep,
    Channel,
    ContactPolicy,
    OutboxMessage,
    Repeat,
    SkipReason,
)
from campaigns.ratelimit import provider_of, take_daily_budget, take_send_slots
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
    snapshot=None,
    preview: bool = False,
) -> RenderedMessage:
    """The campaign's message as this member would receive it (also the admin preview); `extra`
    holds an automation's own variables, `coupon_code`/`offer_points` the campaign offer's. With a
    message template, its approved text with the member's values."""
    with translation.override(campaign.language):
        extra = {**personal_variables.values_for(campaign, member, preview=preview), **(extra or {})}
        context = _context(member, extra, coupon_code=coupon_code, offer_points=offer_points, snapshot=snapshot)
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
    snapshot=None,
) -> TemplateMessage:
    """What an SMS or WeChat provider is given: the campaign's message template with this member's
    values, or (SMS without a template, development) the rendered body as the text. A best-channel
    campaign's template serves the members whose channel is the template's."""
    with translation.override(campaign.language):
        extra = {**personal_variables.values_for(campaign, member), **(extra or {})}
        context = _context(member, extra, coupon_code=coupon_code, offer_points=offer_points, snapshot=snapshot)
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


def _context(
    member: Member, extra: dict | None, *, coupon_code: str, offer_points: int, snapshot=None
) -> MessageContext:
    if snapshot is None:  # a dispatch batch reads its members' snapshots at once (BatchContext)
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


@dataclass
class BatchContext:
    """What a claimed batch reads once instead of per message: its rows' channels, the contact
    policy, each campaign's offer, the steps that are an automation's, the members' loyalty
    snapshots (read before the row locks: the points and tier a message shows)."""

    rows: list[tuple[int, str, int, int, int]]  # (id, channel, campaign id, step id, member id)
    policy: ContactPolicy
    offers: dict
    automation_steps: set[int]
    snapshots: dict  # (campaign language, member id) -> snapshot (the tier's name is translated)


def batch_context(ids: list[int]) -> BatchContext:
    rows = selectors.batch_rows(ids)
    language_of = dict(Campaign.objects.filter(pk__in={row[2] for row in rows}).values_list("pk", "language"))
    by_language: dict[str, set[int]] = {}
    for _id, _channel, campaign_id, _step_id, member_id in rows:
        by_language.setdefault(language_of.get(campaign_id, ""), set()).add(member_id)
    snapshots = {}
    for language, member_ids in by_language.items():  # one query per language (mostly one)
        with translation.override(language or None):
            found = loyalty.snapshots(list(Member.objects.filter(pk__in=member_ids)))
        snapshots.update({(language, member_id): snapshot for member_id, snapshot in found.items()})
    return BatchContext(
        rows=rows,
        policy=selectors.contact_policy(),
        offers=selectors.offers_of({row[2] for row in rows}),
        automation_steps=selectors.automation_step_ids({row[3] for row in rows}),
        snapshots=snapshots,
    )


@transaction.atomic
def prepare_message(
    *, message_id: int, owner: str, now: datetime.datetime | None = None, context: BatchContext | None = None
) -> Decision:
    """Under the row lock: apply the contact policy and, when the message may go, mark it
    `sending` (committed when this returns, before anything is handed to the channel). A
    dispatch batch passes its `context` (what it read once for all its messages)."""
    now = now or timezone.now()
    message = lock_objects.outbox_message_for_update(message_id)
    if message is None or message.status != OutboxMessage.Status.PENDING or message.lease_owner != owner:
        return Decision("lost")  # cancelled, or the lease expired and another worker took it
    campaign, member = message.campaign, message.member
    if campaign.status != Campaign.Status.SENDING:
        return _skip(message, SkipReason.CANCELLED, now)
    policy = context.policy if context is not None else selectors.contact_policy()
    offer = context.offers.get(campaign.pk, offers.LOOK_UP) if context is not None else offers.LOOK_UP
    if offer is offers.LOOK_UP:
        offer = selectors.offer_of(campaign.pk)
    snapshot = context.snapshots.get((campaign.language, member.pk)) if context is not None else None
    # What settling needs: the campaign's offer, or a look-up for an automation's message (its own
    # coupon has an OfferGrant too, which a failed message voids).
    settle = offer if context is not None and message.step_id not in context.automation_steps else offers.LOOK_UP
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
        coupon = offers.coupon_for_message(message, offer=offer)
    except DomainError as exc:
        return _fail(message, _("The offer could not be given: %(error)s") % {"error": exc.detail}, now)
    try:
        with transaction.atomic():  # an automation's coupon is undone if the message cannot render
            if context is None or message.step_id in context.automation_steps:
                extra = automations.before_send(message=message, now=now)
            else:
                extra = {}
            points = offer.points if offer is not None and offer.kind == CampaignOffer.Kind.POINTS else 0
            values = {"coupon_code": coupon.code if coupon else "", "offer_points": points, "snapshot": snapshot}
            if message.channel == Channel.EMAIL:
                rendered = render_for(campaign, member, extra, **values)
            else:
                rendered = message_for(campaign, member, extra, channel=message.channel, **values)
    except OfferNotIssued as exc:
        decision = _fail(message, str(exc), now)
        offers.settle_after_send(message_id=message.pk, sent=False, offer=settle)
        return decision
    except Exception as exc:  # a template that cannot render for this member
        decision = _fail(message, _("Template error: %(error)s") % {"error": type(exc).__name__}, now)
        offers.settle_after_send(message_id=message.pk, sent=False, offer=settle)
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
    *, message_id: int, owner: str, provider_ref: str = "", error: str = "", error_code: str = "", offer=offers.LOOK_UP
) -> None:
    """sending (or in_doubt, see `_yours`) → sent (with the provider's message id) | failed (with
    its error code and reason); then the offer is settled in the same transaction (points
    credited, or the coupon voided). `offer`: the campaign's, when the caller looked it up."""
    now = timezone.now()
    rows = _yours(message_id, owner)
    if error:
        changed = rows.update(status=OutboxMessage.Status.FAILED, error=error[:300], error_code=error_code[:64],
                              lease_owner="", lease_expires_at=None, updated_at=now)  # fmt: skip
    else:
        changed = rows.update(status=OutboxMessage.Status.SENT, sent_at=now, provider_ref=provider_ref[:100], error="",
                              error_code="", lease_owner="", lease_expires_at=None, updated_at=now)  # fmt: skip
    if changed:
        offers.settle_after_send(message_id=message_id, sent=not error, offer=offer)


def finish_sent(*, owner: str, channel: str, sent: list[tuple[int, str]]) -> None:
    """Record messages the provider accepted, of campaigns without an offer (nothing to settle):
    sending (or in_doubt) → sent with their provider ids in one statement (one transaction), then
    the receipts that came before their ids were stored, in one go."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            _sql.mark_sent(owner=owner, sent=sent, now=timezone.now())
    else:
        for message_id, provider_ref in sent:
            finish_message(message_id=message_id, owner=owner, provider_ref=provider_ref, offer=None)
    refs = [provider_ref for _id, provider_ref in sent if provider_ref]
    if refs:
        receipts.apply_early_receipts(channel=channel, provider_refs=refs)


@transaction.atomic
def retry_or_fail(*, message_id: int, owner: str, error: str, error_code: str, now=None, offer=offers.LOOK_UP) -> str:
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
        finish_message(message_id=message_id, owner=owner, error=error, error_code=error_code, offer=offer)
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


def send_prepared(*, message_id: int, owner: str, decision: Decision, offer=offers.LOOK_UP) -> str:
    """Hand a prepared message to its channel and record what the provider said: "sent",
    "failed", "retried" (a temporary refusal) or "in_doubt" (the answer was lost)."""
    return record_answer(
        message_id=message_id, owner=owner, decision=decision, answer=call_channel(message_id, decision), offer=offer
    )


@dataclass
class Answer:
    """What the channel said: the provider's message id, or the exception it raised."""

    provider_ref: str = ""
    error: Exception | None = None


def call_channel(message_id: int, decision: Decision) -> Answer:
    """Hand a prepared (`sending`, committed) message to its channel. Writes nothing of the outbox,
    so a dispatch batch runs it in its send threads."""
    try:
        with translation.override(decision.language or None):
            return Answer(provider_ref=_send(decision, f"outbox-{message_id}", message_id) or "")
    except Exception as exc:
        return Answer(error=exc)


def record_answer(*, message_id: int, owner: str, decision: Decision, answer: Answer, offer=offers.LOOK_UP) -> str:
    exc = answer.error
    if isinstance(exc, ChannelInDoubt):
        logger.warning("outbox message %s in doubt: %s", message_id, exc.code)
        return mark_in_doubt(message_id=message_id, owner=owner, error_code=exc.code)
    if isinstance(exc, ChannelError):
        logger.warning("outbox message %s refused: %s (temporary: %s)", message_id, exc.code, exc.temporary)
        if exc.temporary:
            return retry_or_fail(message_id=message_id, owner=owner, error=exc.reason, error_code=exc.code, offer=offer)
        finish_message(message_id=message_id, owner=owner, error=exc.reason, error_code=exc.code, offer=offer)
        return "failed"
    if exc is not None:  # the channel broke in a way it does not document: failed, never retried
        logger.warning("outbox message %s failed: %s", message_id, type(exc).__name__)
        finish_message(message_id=message_id, owner=owner, error=str(exc) or type(exc).__name__, offer=offer)
        return "failed"
    provider_ref = answer.provider_ref
    finish_message(message_id=message_id, owner=owner, provider_ref=provider_ref, offer=offer)
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
    from campaigns.channels.wechat import send_wechat  # imported when first used

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
    """Claim a batch and send it, channel by channel: what every message needs is read once for
    the batch (`BatchContext`); send-rate slots are taken a block at a time (as many as
    CAMPAIGN_SEND_THREADS), then that many messages are prepared (each committed `sending` on its
    own), sent side by side through the send threads, and their answers recorded."""
    batch_size = batch_size or settings.CAMPAIGN_BATCH_SIZE
    result = BatchResult()
    ids = claim_batch(owner=owner, batch_size=batch_size)
    result.claimed = len(ids)
    if not ids:
        complete_finished_campaigns()
        return result
    context = batch_context(ids)
    result.lost += len(ids) - len(context.rows)  # deleted since they were claimed
    by_channel: dict[str, deque] = {}
    for row in context.rows:
        by_channel.setdefault(row[1], deque()).append(row)
    for channel, rows in by_channel.items():
        for outcome in _dispatch_channel(owner, channel, rows, context):
            setattr(result, outcome, getattr(result, outcome) + 1)
    complete_finished_campaigns()
    return result


def _sends_inline(channel: str) -> bool:
    """Send in the calling thread: one thread asked for; a provider that does not say it may be
    called from several threads at once (`concurrent_sends`: the HTTP providers; not the
    development logs, which write the database); or a caller's open transaction."""
    if settings.CAMPAIGN_SEND_THREADS <= 1 or transaction.get_connection().in_atomic_block:
        return True
    try:
        if channel == Channel.SMS:
            provider = channels.sms_provider()
        elif channel == Channel.WECHAT:
            from campaigns.channels.wechat import wechat_provider

            provider = wechat_provider()
        else:
            return True
    except Exception:  # a provider that cannot be set up fails each send the usual way
        return True
    return not getattr(provider, "concurrent_sends", False)


def _dispatch_channel(owner: str, channel: str, rows: deque, context: BatchContext) -> list[str]:
    """A slot of the channel's rate is taken before a message is prepared (as one at a time
    did), so a message is `sending` only while its send is due: no lease runs out waiting."""
    outcomes: list[str] = []
    rate, provider = context.policy.rate_for(channel), provider_of(channel)
    # A block is prepared (committed `sending`) just before it is sent: inline, one message at a
    # time, so a message is `sending` only while its own send runs, as before.
    threads = 1 if _sends_inline(channel) else max(1, settings.CAMPAIGN_SEND_THREADS)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="campaign-send") if threads > 1 else None
    try:
        while rows:
            granted = take_send_slots(channel, rate, min(len(rows), threads), provider=provider)
            block: list[tuple[int, Decision, object]] = []
            while rows and len(block) < granted:
                message_id, _channel, campaign_id, step_id, _member_id = rows.popleft()
                decision = prepare_message(message_id=message_id, owner=owner, context=context)
                if decision.outcome == "send":
                    automation = step_id in context.automation_steps  # its coupon: settled by look-up
                    settle = offers.LOOK_UP if automation else context.offers.get(campaign_id)
                    block.append((message_id, decision, settle))
                else:
                    outcomes.append(decision.outcome)
            if pool is None or len(block) == 1:
                answers = [call_channel(message_id, decision) for message_id, decision, _offer in block]
            else:
                answers = list(pool.map(_call_in_thread, block))
            sent: list[tuple[int, str]] = []  # accepted, no offer to settle: recorded together
            for (message_id, decision, offer), answer in zip(block, answers, strict=True):
                if answer.error is None and offer is None:
                    sent.append((message_id, answer.provider_ref))
                    continue
                outcomes.append(
                    record_answer(message_id=message_id, owner=owner, decision=decision, answer=answer, offer=offer)
                )
            if sent:
                finish_sent(owner=owner, channel=channel, sent=sent)
                outcomes += ["sent"] * len(sent)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return outcomes


def _call_in_thread(send) -> Answer:
    message_id, decision, _offer = send
    try:
        return call_channel(message_id, decision)
    finally:  # a provider that wrote through this thread's own connection (the development SMS log)
        connections.close_all()


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
