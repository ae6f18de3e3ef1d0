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
   of campaigns without an offer in one statement. An SMS provider that batches sends a block
   (SMS_BATCH_SIZE messages) in as few calls as it allows (one per template); a whole-call refusal
   or a lost answer is each of the call's messages'.
4. `recover_expired_leases` (beat, every minute): leased pending rows whose lease expired are
   released; `sending` rows whose lease expired become `in_doubt` — the worker died after
   committing `sending`, so the message may have gone out: it is reported, never sent again.
Nothing relies on the broker redelivering a task.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, transaction
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
from campaigns.errors import NothingToRemind, OfferNotIssued
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
from campaigns.ratelimit import provider_of, take_daily_budgets, take_send_slots
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


class _BlockWrites:
    """What a block's prepare decided for the messages that do not go out, and which ones do:
    written grouped (one UPDATE per skip reason, per error, per `not_before`, one to `sending`),
    in the block's transaction, after every decision was made."""

    def __init__(self, now):
        self.now = now
        self.skipped: dict[str, list[int]] = {}
        self.failed: dict[tuple[str, str], list[int]] = {}
        self.deferred: dict[datetime.datetime, list[int]] = {}
        self.sending: list[int] = []
        self.settle_failed: list[tuple[int, object]] = []  # failed after their coupon was issued

    def skip(self, message: OutboxMessage, reason: str) -> Decision:
        self.skipped.setdefault(reason, []).append(message.pk)
        return Decision("skipped")

    def fail(self, message: OutboxMessage, error: str, code: str = "") -> Decision:
        self.failed.setdefault((error[:300], code[:64]), []).append(message.pk)
        return Decision("failed")

    def defer(self, message: OutboxMessage, not_before: datetime.datetime) -> Decision:
        self.deferred.setdefault(not_before, []).append(message.pk)
        return Decision("deferred")

    def write(self) -> None:
        now, rows = self.now, OutboxMessage.objects
        released = {"lease_owner": "", "lease_expires_at": None, "updated_at": now}
        for reason, ids in self.skipped.items():
            rows.filter(pk__in=ids).update(status=OutboxMessage.Status.SKIPPED, skip_reason=reason, **released)
        for (error, code), ids in self.failed.items():
            rows.filter(pk__in=ids).update(status=OutboxMessage.Status.FAILED, error=error, error_code=code, **released)
        for not_before, ids in self.deferred.items():
            rows.filter(pk__in=ids).update(not_before=not_before, **released)
        if self.sending:
            rows.filter(pk__in=self.sending).update(
                status=OutboxMessage.Status.SENDING, sending_at=now, lease_expires_at=now + lease_length(),
                updated_at=now,
            )  # fmt: skip
        if self.settle_failed:  # the coupons of messages that could not render are voided
            offers.settle_block(sent=[], failed=self.settle_failed)


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
    campaigns: dict  # id -> Campaign (with its message template): read once, its status again per block


def batch_context(ids: list[int]) -> BatchContext:
    rows = selectors.batch_rows(ids)
    campaigns = Campaign.objects.select_related("message_template").in_bulk({row[2] for row in rows})
    language_of = {pk: campaign.language for pk, campaign in campaigns.items()}
    by_language: dict[str, set[int]] = {}
    for _id, _channel, campaign_id, _step_id, member_id in rows:
        by_language.setdefault(language_of.get(campaign_id, ""), set()).add(member_id)
    snapshots = {}
    for language, member_ids in by_language.items():  # one query per language (mostly one)
        with translation.override(language or None):
            found = loyalty.snapshots(list(Member.objects.filter(pk__in=member_ids).only("pk")))
        snapshots.update({(language, member_id): snapshot for member_id, snapshot in found.items()})
    return BatchContext(
        rows=rows,
        policy=selectors.contact_policy(),
        offers=selectors.offers_of({row[2] for row in rows}),
        automation_steps=selectors.automation_step_ids({row[3] for row in rows}),
        snapshots=snapshots,
        campaigns=campaigns,
    )


Prepared = tuple  # (message id, Decision, the offer to settle: a CampaignOffer, None, or offers.LOOK_UP)


def prepare_message(
    *, message_id: int, owner: str, now: datetime.datetime | None = None, context: BatchContext | None = None
) -> Decision:
    """One message through `prepare_block` (its own transaction): the decision for it."""
    context = context if context is not None else batch_context([message_id])
    return prepare_block(message_ids=[message_id], owner=owner, now=now, context=context)[0][1]


@transaction.atomic
def prepare_block(
    *, message_ids: list[int], owner: str, context: BatchContext, now: datetime.datetime | None = None
) -> list[Prepared]:
    """A block of claimed messages in one transaction: their rows locked in id order, then the
    contact policy applied to all of them at once — consent for all the block's members in one
    query, quiet hours, the members' contact locks in one statement and their frequency-cap counts
    in one query, the address, the daily budget (one `incr` per channel) — then each one's offer
    and message, and the ones that may go marked `sending` in one UPDATE (committed when this
    returns, before anything is handed to the channel; the others skipped, failed or deferred, a
    statement per kind). Returns (id, decision, offer to settle) for each id, in id order; a
    message no longer pending under this lease is "lost".

    The frequency cap stays exact across workers: the contact locks are held until the commit, so
    a worker counting a member's contacts waits for any other transaction that may mark one of
    that member's messages `sending`. A member with several messages in the block is handled in
    rounds (one message of each member per round), each round counting the sends of the last."""
    now = now or timezone.now()
    policy = context.policy
    single = len(message_ids) == 1
    writes = _BlockWrites(now)
    decisions: dict[int, Decision] = {}
    settles: dict[int, object] = {}
    live: list[OutboxMessage] = []
    for message in lock_objects.outbox_messages_for_update(message_ids, member_defer=_unread(message_ids, context)):
        if message.status != OutboxMessage.Status.PENDING or message.lease_owner != owner:
            continue  # cancelled, or the lease expired and another worker took it: "lost"
        campaign = context.campaigns.get(message.campaign_id)
        if campaign is None:  # a message the context was not read for
            campaign = Campaign.objects.select_related("message_template").get(pk=message.campaign_id)
            context.campaigns[campaign.pk] = campaign
        message.campaign = campaign  # (a campaign being sent is not edited; its status is read fresh)
        if message.campaign_status != Campaign.Status.SENDING:
            decisions[message.pk] = writes.skip(message, SkipReason.CANCELLED)
            continue
        live.append(message)
    live = _with_consent(live, writes, decisions)
    if live:
        reopens = rules.quiet_hours_end(
            now, start=policy.quiet_hours_start, end=policy.quiet_hours_end, tz=policy.timezone
        )
        if reopens is not None:
            for message in live:
                end_at = message.campaign.end_at
                if end_at and reopens > end_at:
                    decisions[message.pk] = writes.skip(message, SkipReason.QUIET_HOURS)
                else:
                    decisions[message.pk] = writes.defer(message, reopens)
            live = []
    if live:
        lock_objects.lock_member_contacts(message.member_id for message in live)
        since = now - datetime.timedelta(days=policy.frequency_cap_days)
        contacts = selectors.recent_contact_counts({message.member_id for message in live}, since)
        while live:  # rounds: one message of each member at a time
            this_round, later, seen = [], [], set()
            for message in live:
                (later if message.member_id in seen else this_round).append(message)
                seen.add(message.member_id)
            _prepare_round(this_round, contacts, writes, decisions, settles, context=context, now=now, single=single)
            live = later
    writes.write()
    return [(pk, decisions.get(pk) or Decision("lost"), settles.get(pk)) for pk in sorted(set(message_ids))]


def _unread(message_ids: list[int], context: BatchContext) -> tuple[str, ...]:
    """The member's sealed fields a block does not need decrypted: the addresses of the channels
    none of its messages go through, and the birthday (automations use birth_month/birth_day)."""
    wanted = set(message_ids)
    channels_used = {row[1] for row in context.rows if row[0] in wanted}
    if not channels_used:
        return ()
    unread = ["birthday"]
    if Channel.EMAIL not in channels_used:
        unread.append("email")
    if Channel.SMS not in channels_used:
        unread.append("phone")
    return tuple(unread)


def _with_consent(messages: list[OutboxMessage], writes: _BlockWrites, decisions: dict) -> list[OutboxMessage]:
    """The messages whose member consents to marketing on the message's channel (one query; a
    second one, for the refusals only, tells an opt-out from a consent never given)."""
    if not messages:
        return messages
    topics = {selectors.consent_topic(message.channel) for message in messages}
    granted = selectors.granted_consents({message.member_id for message in messages}, topics)
    allowed, refused = [], []
    for message in messages:
        if message.member.is_erased or (message.member_id, selectors.consent_topic(message.channel)) not in granted:
            refused.append(message)
        else:
            allowed.append(message)
    living = [message for message in refused if not message.member.is_erased]
    once = selectors.once_granted({message.member_id for message in living}, topics) if living else set()
    for message in refused:
        opted_out = not message.member.is_erased and (
            (message.member_id, selectors.consent_topic(message.channel)) in once
        )
        decisions[message.pk] = writes.skip(message, SkipReason.OPTED_OUT if opted_out else SkipReason.NO_CONSENT)
    return allowed


def _prepare_round(
    messages: list[OutboxMessage], contacts: dict, writes: _BlockWrites, decisions: dict, settles: dict, *,
    context: BatchContext, now, single: bool,
) -> None:  # fmt: skip
    """One message per member: the frequency cap (the contacts counted before, plus this block's
    earlier rounds), the address, the daily budget, then the offer and the message."""
    policy = context.policy
    candidates: dict[str, list[tuple[OutboxMessage, str]]] = {}
    for message in messages:
        if contacts.get(message.member_id, 0) >= policy.frequency_cap_messages:
            decisions[message.pk] = writes.skip(message, SkipReason.FREQUENCY_CAP)
            continue
        address = address_of(message.member, message.channel)
        if not address:
            decisions[message.pk] = writes.fail(message, _no_address_reason(message.channel), code="no_address")
            continue
        candidates.setdefault(message.channel, []).append((message, address))
    allowed: list[tuple[OutboxMessage, str]] = []
    for channel, group in candidates.items():
        budget = policy.daily_budget_for(channel)
        granted = take_daily_budgets(channel, budget, len(group), now=now) if budget else len(group)
        allowed += group[:granted]
        tomorrow = rules.next_local_midnight(now)
        for message, _address in group[granted:]:
            # Over today's budget: wait for the next day (Asia/Shanghai), unless the campaign ends first.
            if message.campaign.end_at and tomorrow > message.campaign.end_at:
                decisions[message.pk] = writes.fail(
                    message, _("The channel's daily budget was used up before the campaign ended."), code="daily_budget"
                )
            else:
                decisions[message.pk] = writes.defer(message, tomorrow)
    for message, address in sorted(allowed, key=lambda pair: pair[0].pk):
        decision, settle = _compose(message, address, writes, context=context, now=now, single=single)
        decisions[message.pk], settles[message.pk] = decision, settle
        if decision.outcome == "send":
            writes.sending.append(message.pk)
            contacts[message.member_id] = contacts.get(message.member_id, 0) + 1


def _compose(
    message: OutboxMessage, address: str, writes: _BlockWrites, *, context: BatchContext, now, single: bool
) -> tuple[Decision, object]:
    """The message's offer (its coupon issued once) and its text for the member. An automation's
    message, one with an offer, or a block of one renders in a savepoint (what it wrote is undone
    when it cannot render); a plain message's render writes nothing, and a database error there
    breaks the block's transaction — it is raised, and the caller prepares the block again one
    message at a time."""
    campaign, member = message.campaign, message.member
    offer = context.offers.get(campaign.pk, offers.LOOK_UP)
    if offer is offers.LOOK_UP:
        offer = selectors.offer_of(campaign.pk)
    automation = message.step_id in context.automation_steps
    # What settling needs: the campaign's offer, or a look-up for an automation's message (its own
    # coupon has an OfferGrant too, which a failed message voids).
    settle = offers.LOOK_UP if automation else offer
    try:  # the campaign's coupon, if it offers one: issued once for this message (campaigns.services.offers)
        coupon = offers.coupon_for_message(message, offer=offer)
    except DomainError as exc:
        return writes.fail(message, _("The offer could not be given: %(error)s") % {"error": exc.detail}), settle
    guarded = single or automation or offer is not None
    try:
        with transaction.atomic() if guarded else contextlib.nullcontext():
            extra = automations.before_send(message=message, now=now) if automation else {}
            points = offer.points if offer is not None and offer.kind == CampaignOffer.Kind.POINTS else 0
            values = {
                "coupon_code": coupon.code if coupon else "",
                "offer_points": points,
                "snapshot": context.snapshots.get((campaign.language, member.pk)),
            }
            if message.channel == Channel.EMAIL:
                rendered = render_for(campaign, member, extra, **values)
            else:
                rendered = message_for(campaign, member, extra, channel=message.channel, **values)
    except NothingToRemind:
        # A reminder whose figure is 0 by now: skipped with its reason, never sent saying "0" (its
        # savepoint is undone; a coupon already given for the message is voided as for a failure).
        writes.settle_failed.append((message.pk, settle))
        return writes.skip(message, SkipReason.NOTHING_TO_REMIND), settle
    except OfferNotIssued as exc:
        writes.settle_failed.append((message.pk, settle))
        return writes.fail(message, str(exc)), settle
    except Exception as exc:  # a template that cannot render for this member
        if isinstance(exc, DatabaseError) and not guarded:
            raise
        writes.settle_failed.append((message.pk, settle))
        return writes.fail(message, _("Template error: %(error)s") % {"error": type(exc).__name__}), settle
    decision = Decision(
        "send",
        message=rendered,
        address=address,
        member_no=member.member_no,
        channel=message.channel,
        language=campaign.language,
    )
    return decision, settle


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


def record_block(*, owner: str, channel: str, block: list[Prepared], answers: list[Answer]) -> list[str]:
    """Record what the channel said for a block of sends, set-based, in one transaction: the
    accepted ones `sent` with their provider ids (one statement), the refused ones `failed` with
    the provider's code and reason (one statement), the ones whose answer was lost `in_doubt`
    (one statement) — each only while it is still this worker's send (`_yours`) — and then the
    offers of the changed ones settled together (`offers.settle_block`: points credited for the
    sent, coupons voided for the failed). A temporary refusal goes back to pending with a backoff
    (`retry_or_fail`, one at a time: rare). Then the receipts that came before their provider ids
    were stored. Returns the outcome of each send: "sent", "failed", "retried", "in_doubt"."""
    now = timezone.now()
    sent, refused, temporary, doubtful = [], [], [], []
    outcomes: list[str] = []
    for (message_id, _decision, settle), answer in zip(block, answers, strict=True):
        exc = answer.error
        if isinstance(exc, ChannelInDoubt):
            logger.warning("outbox message %s in doubt: %s", message_id, exc.code)
            doubtful.append((message_id, exc.code[:64]))
            outcomes.append("in_doubt")
        elif isinstance(exc, ChannelError):
            logger.warning("outbox message %s refused: %s (temporary: %s)", message_id, exc.code, exc.temporary)
            if exc.temporary:
                temporary.append((message_id, exc, settle))
                outcomes.append("")  # what retry_or_fail says
            else:
                refused.append((message_id, exc.reason[:300], exc.code[:64], settle))
                outcomes.append("failed")
        elif exc is not None:  # the channel broke in a way it does not document: failed, never retried
            logger.warning("outbox message %s failed: %s", message_id, type(exc).__name__)
            refused.append((message_id, (str(exc) or type(exc).__name__)[:300], "", settle))
            outcomes.append("failed")
        else:
            sent.append((message_id, answer.provider_ref[:100], settle))
            outcomes.append("sent")
    with transaction.atomic():
        changed_sent = _sql.mark_sent(owner=owner, sent=[(pk, ref) for pk, ref, _s in sent], now=now) if sent else set()
        changed_failed = (
            _sql.mark_failed(owner=owner, failed=[(pk, error, code) for pk, error, code, _s in refused], now=now)
            if refused
            else set()
        )
        if doubtful:
            _sql.mark_in_doubt(owner=owner, doubtful=doubtful, now=now)
        offers.settle_block(
            sent=[(pk, settle) for pk, _ref, settle in sent if pk in changed_sent and settle is not None],
            failed=[(pk, settle) for pk, _e, _c, settle in refused if pk in changed_failed and settle is not None],
        )
        retried = iter(
            retry_or_fail(message_id=pk, owner=owner, error=exc.reason, error_code=exc.code, now=now, offer=settle)
            for pk, exc, settle in temporary
        )
        outcomes = [outcome or next(retried) for outcome in outcomes]
    refs = [ref for _pk, ref, _settle in sent if ref]
    if refs:  # a receipt that came before the id was stored waits in EarlyReceipt
        receipts.apply_early_receipts(channel=channel, provider_refs=refs)
    return outcomes


def record_answer(*, message_id: int, owner: str, decision: Decision, answer: Answer, offer=offers.LOOK_UP) -> str:
    """One send's answer recorded (`record_block` with one message)."""
    block = [(message_id, decision, offer)]
    return record_block(owner=owner, channel=decision.channel, block=block, answers=[answer])[0]


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
    """Block by block: the send-rate slots taken first (one `incr` per block, a slot per message),
    then as many messages prepared in one transaction (`prepare_block`: committed `sending`),
    handed to the channel side by side through the send threads, and their answers recorded in one
    transaction (`record_block`). A block is as large as the send threads (CAMPAIGN_SEND_THREADS;
    one message when the channel is called inline), so a message is `sending` only while its own
    send runs and a worker killed mid-block leaves only the sends in flight `in_doubt`. For an SMS
    provider that batches (`channels.sms_batch_size()` > 1) a block is one batch (SMS_BATCH_SIZE
    messages): its messages go out in as few calls as the provider allows (`_calls`: one per
    template, no number twice), the calls side by side, and a message is `sending` only while its
    call runs."""
    outcomes: list[str] = []
    rate, provider = context.policy.rate_for(channel), provider_of(channel)
    batch = channels.sms_batch_size() if channel == Channel.SMS else 1
    threads = 1 if _sends_inline(channel) else max(1, settings.CAMPAIGN_SEND_THREADS)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="campaign-send") if threads > 1 else None
    size = batch if batch > 1 else threads
    blocks = -(-len(rows) // size)
    per_block = -(-len(rows) // blocks) if rows else 1  # 100 messages, 32 threads: 4 blocks of 25
    try:
        while rows:
            granted = take_send_slots(channel, rate, min(len(rows), per_block), provider=provider)
            ids = [rows.popleft()[0] for _i in range(min(granted, len(rows)))]
            block = []
            for message_id, decision, settle in _prepare(ids, owner, context):
                if decision.outcome == "send":
                    block.append((message_id, decision, settle))
                else:
                    outcomes.append(decision.outcome)
            if not block:
                continue
            if batch > 1:
                answers = _send_in_calls(block, batch, pool)
            elif pool is None or len(block) == 1:
                answers = [call_channel(message_id, decision) for message_id, decision, _settle in block]
            else:
                answers = list(pool.map(_call_in_thread, block))
            outcomes += record_block(owner=owner, channel=channel, block=block, answers=answers)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return outcomes


def _calls(block: list[Prepared], batch: int) -> list[list[int]]:
    """A block's SMS grouped into provider calls (positions in the block): messages with the same
    `batch_key` together, at most `batch` to a call and no number twice in one call (its id would
    be ambiguous); a message whose key is None, or that cannot be keyed, on its own."""
    groups: dict[object, list[list[int]]] = {}
    calls: list[list[int]] = []
    for index, (_message_id, decision, _settle) in enumerate(block):
        try:
            key = channels.sms_batch_key(decision.message)
        except Exception:  # the single send reports what is wrong with it
            key = None
        if key is None:
            calls.append([index])
            continue
        for call in groups.setdefault(key, []):
            if len(call) < batch and all(block[i][1].address != decision.address for i in call):
                call.append(index)
                break
        else:
            groups[key].append([index])
    for key_calls in groups.values():
        calls.extend(key_calls)
    return calls


def _send_in_calls(block: list[Prepared], batch: int, pool) -> list[Answer]:
    """Each message's answer, the block sent in `_calls` (side by side through `pool`, if any)."""
    calls = _calls(block, batch)
    work = [[block[i] for i in call] for call in calls]
    if pool is None or len(work) == 1:
        results = [call_channel_batch(sends) for sends in work]
    else:
        results = list(pool.map(_call_batch_in_thread, work))
    answers: list[Answer | None] = [None] * len(block)
    for call, call_answers in zip(calls, results, strict=True):
        for index, answer in zip(call, call_answers, strict=True):
            answers[index] = answer
    return answers  # type: ignore[return-value]


def call_channel_batch(sends: list[Prepared]) -> list[Answer]:
    """Hand prepared (`sending`, committed) SMS to the provider in one call; each one's answer. A
    whole-call refusal or a lost answer is every message's. Writes nothing of the outbox."""
    if len(sends) == 1:
        message_id, decision, _settle = sends[0]
        return [call_channel(message_id, decision)]
    items = [(decision.address, decision.message, f"outbox-{message_id}") for message_id, decision, _s in sends]
    try:
        with translation.override(sends[0][1].language or None):
            results = channels.send_sms_batch(items)
    except Exception as exc:
        return [Answer(error=exc) for _send in sends]
    if len(results) != len(sends):  # not what the provider promises: nobody knows what went out
        lost = ChannelInDoubt("Unknown", _("The provider answered for a different number of messages."))
        return [Answer(error=lost) for _send in sends]
    return [
        Answer(error=result) if isinstance(result, Exception) else Answer(provider_ref=str(result or ""))
        for result in results
    ]


def _call_batch_in_thread(sends: list[Prepared]) -> list[Answer]:
    try:
        return call_channel_batch(sends)
    finally:
        connections.close_all()


def _prepare(ids: list[int], owner: str, context: BatchContext) -> list[Prepared]:
    """`prepare_block`; when a database error broke the block's transaction (rolled back: the
    messages are still pending under this lease), the block again one message at a time, where a
    message's own error is handled (or raised) as it always was."""
    try:
        return prepare_block(message_ids=ids, owner=owner, context=context)
    except DatabaseError:
        if len(ids) == 1:
            raise
        logger.warning("a dispatch block of %s messages failed; preparing them one at a time", len(ids), exc_info=True)
        return [prepared for message_id in ids for prepared in prepare_block(message_ids=[message_id], owner=owner,
                                                                            context=context)]  # fmt: skip


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
