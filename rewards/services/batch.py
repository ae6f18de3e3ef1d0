"""Posting many purchases at once: `post_purchase`'s rules, with bulk writes.

`post_purchases_batch` gives exactly what posting the same purchases one by one through
`post_purchase` (in the order of their `ordered_at` per member) gives — the same purchases and
lines, ledger rows, lots, postings, balances, lifetime figures and tier history (a test posts one
generated data set both ways and compares) — in a fixed number of queries per batch:

- the purchases are recorded by `members.services.record_purchases` (members' own checks and row
  locks, bulk inserts);
- the accounts are locked (opened at the entry tier on first use) in primary-key order, after
  the members, as every writer does (rewards.lock_objects);
- what the rules depend on is loaded once per batch: the earning configuration, the expiry and
  tier policies, the members' paid plans, what their postings already earned on the batch's days
  (only when a daily cap is set) and their rolling-window figures (only for a window basis);
- per member, in `ordered_at` order, the points come from `_points_for`, which calls
  `rewards.services.earning.points_for_purchase` — THE computation `post_purchase` uses — with the
  tier and paid plan the member held when buying, the store, channel and time, and the points
  earned that day so far (database + this batch); the credit from `ledger.move_credit` (the same
  arithmetic as `ledger.credit`: debt repaid first, back-dated lots expire at once); the tier
  from `ledger.plan_retier` (`ledger.retier`'s rule under the tier policy: upgrade only, grace
  mark cleared, history with basis and figure);
- ledger rows, lots and postings are kept as plain tuples (no model instance per row) and
  inserted in bulk (COPY on PostgreSQL, `executemany` on SQLite), the few tier changes too, and
  the accounts updated with one statement per chunk.

Idempotent on `external_ref` like `post_purchase`: a reference already posted with the same
content is answered from its posting ("replayed", nothing written); one posted with different
content, or recorded without points, is a conflict and is left out (the caller decides whether
that fails the whole run).
"""

from __future__ import annotations

import datetime
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import bulk
from loyalty_crm.bulk import AnyOf
from members import services as members_services
from members.models import Purchase
from members.services import PurchaseDraft
from rewards import _sql, rules, selectors
from rewards.models import (
    LedgerEntry,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
    PurchasePosting,
    TierHistory,
    TierPolicy,
)
from rewards.services import earning, ledger
from rewards.services import tiers as tier_rules
from rewards.services.purchases import PostingResult, request_fingerprint

POSTED = "posted"
REPLAYED = "replayed"
CONFLICT = "conflict"
REFUSED = "refused"  # `post_purchases_each` only: members refused this purchase (see `error`)

_CHUNK = 10_000  # ids per IN (...) list


@dataclass(frozen=True)
class BatchOutcome:
    external_ref: str
    status: str  # POSTED, REPLAYED (already posted with the same content) or CONFLICT
    result: PostingResult | None = None  # None for a conflict
    detail: str = ""  # why it is a conflict
    error: Exception | None = None  # REFUSED: the ValidationError or domain error members raised


@dataclass
class BatchResult:
    outcomes: list[BatchOutcome] = field(default_factory=list)  # in the order of the drafts given

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def points_earned(self) -> int:
        return sum(o.result.points_earned for o in self.outcomes if o.status == POSTED)

    @property
    def tier_changes(self) -> int:
        return sum(1 for o in self.outcomes if o.status == POSTED and o.result.tier_changed)


def fingerprint_of(draft: PurchaseDraft) -> str:
    """The idempotency fingerprint `post_purchase` stores for the same request."""
    return request_fingerprint(
        member=draft.member,
        external_ref=(draft.external_ref or "").strip(),
        ordered_at=draft.ordered_at,
        items=draft.items,
        store=draft.store,
        channel=draft.channel,
        payment_method=draft.payment_method,
        total=draft.total,
    )


def recorded_purchases(external_refs: Iterable[str]) -> dict[str, tuple[Purchase, PurchasePosting | None]]:
    """The purchases already recorded under these references, with their posting (None when
    the purchase was recorded without points). One query per 10,000 references, and one more
    when some are recorded."""
    refs = sorted(set(external_refs))
    found: dict[str, tuple[Purchase, PurchasePosting | None]] = {}
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        if connection.vendor == "postgresql":  # the ids first, by index (usually none), then the rows
            ids = _sql.purchase_ids_for_refs(chunk)
            if not ids:
                continue
            which = AnyOf(F("pk"), ids)
        else:
            which = AnyOf(F("external_ref"), chunk)
        for purchase in Purchase.objects.filter(which).select_related("member", "posting", "posting__tier"):
            posting = getattr(purchase, "posting", None)
            found[purchase.external_ref] = (purchase, posting)
    return found


def conflict_detail(external_ref: str, posting) -> str:
    """The message `post_purchase` gives for a reference it cannot post again (`posting` None: the
    purchase was recorded without points)."""
    if posting is None:
        return _("The purchase “%(ref)s” was recorded without points (e.g. imported); it cannot be posted again.") % {
            "ref": external_ref
        }
    return _("The external reference “%(ref)s” was already used for a different purchase.") % {"ref": external_ref}


@dataclass
class _Context:
    """What the rules need beyond the purchase and the account, loaded once per batch."""

    config: earning.EarningConfig
    policy: tier_rules.Policy
    plans: dict[int, list[tuple[datetime.date, datetime.date, rules.Plan]]]  # member id → in force when
    earned: dict[tuple[int, datetime.date], int]  # (member id, local day) → points its postings earned
    window_start: datetime.datetime | None  # a window basis: what counts from when
    window: dict[int, Decimal]  # member id → window figure (database + this batch so far)
    zone: datetime.tzinfo = field(default_factory=timezone.get_current_timezone)

    def day_of(self, at: datetime.datetime) -> datetime.date:
        """`timezone.localdate(at)`, with the current time zone looked up once per batch."""
        return at.astimezone(self.zone).date()

    def plan_on(self, member_id: int, day: datetime.date) -> rules.Plan | None:
        """`earning.plan_for_rules`: the first active subscription (by start, id) covering the day."""
        for starts_on, ends_on, plan in self.plans.get(member_id, ()):
            if starts_on <= day <= ends_on:
                return plan
        return None


def _points_for(*, purchase: Purchase, account: PointsAccount, context: _Context, day: datetime.date) -> int:
    """THE computation of a purchase's points in a batch: `earning.points_for_purchase`, as
    `post_purchase` calls it, with what it would look up given from the batch's context —
    the tier held when buying (`account` as it stands just before this purchase), the paid plan
    in force that day, and what the member's postings earned that day (the database's, plus this
    batch's earlier purchases) for the daily cap (`day`: the purchase's local day).
    tests/rewards/test_batch.py posts one data set both ways and compares."""
    member_id = purchase.member_id
    capped = context.config.limits.max_points_per_day is not None
    preview = earning.points_for_purchase(
        lines=[
            rules.Line(
                sku=item.sku, line_total=item.line_total, product_id=item.product_id, category_id=item.category_id
            )
            for item in purchase.lines
        ],
        paid=purchase.total,
        member=purchase.member,
        store_id=purchase.store_id,
        channel=purchase.channel,
        at=purchase.ordered_at,
        tier_id=account.tier_id,
        plan=context.plan_on(member_id, day) if context.config.plans_add_points else None,
        earned_today=max(context.earned.get((member_id, day), 0), 0) if capped else 0,
        config=context.config,
    )
    if capped and preview.points:
        context.earned[(member_id, day)] = context.earned.get((member_id, day), 0) + preview.points
    return preview.points


def _load_context(purchases: list[Purchase], accounts: dict[int, PointsAccount]) -> _Context:
    config = earning.earning_config()
    policy = tier_rules.tier_policy()
    member_ids = sorted(accounts)
    plans: dict[int, list] = defaultdict(list)
    if config.plans_add_points:
        for start in range(0, len(member_ids), _CHUNK):
            for sub in (
                MembershipSubscription.objects.select_related("plan")
                .filter(
                    AnyOf(F("member_id"), member_ids[start : start + _CHUNK]),
                    status=MembershipSubscription.Status.ACTIVE,
                )
                .order_by("starts_on", "id")
            ):
                plan = rules.Plan(id=sub.plan.pk, name=sub.plan.display_name, multiplier=sub.plan.points_multiplier)
                plans[sub.member_id].append((sub.starts_on, sub.ends_on, plan))
    earned: dict[tuple[int, datetime.date], int] = {}
    if config.limits.max_points_per_day is not None and purchases:
        days = {(p.member_id, timezone.localdate(p.ordered_at)) for p in purchases}
        first = min(day for _member, day in days)
        last = max(day for _member, day in days)
        since = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
        until = timezone.make_aware(datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min))
        for start in range(0, len(member_ids), _CHUNK):
            for member_id, ordered_at, points, reversed_ in PurchasePosting.objects.filter(
                AnyOf(F("purchase__member_id"), member_ids[start : start + _CHUNK]),
                purchase__ordered_at__gte=since,
                purchase__ordered_at__lt=until,
            ).values_list("purchase__member_id", "purchase__ordered_at", "points_earned", "points_reversed"):
                key = (member_id, timezone.localdate(ordered_at))
                if key in days:
                    earned[key] = earned.get(key, 0) + points - reversed_
    window_from = None
    window: dict[int, Decimal] = {}
    if policy.uses_window:
        window_from = tier_rules.window_start(timezone.localdate(), policy.window_months)
        window = tier_rules.window_bases(list(accounts.values()), policy=policy)
    return _Context(config=config, policy=policy, plans=plans, earned=earned, window_start=window_from, window=window)


def _lock_or_open_accounts(member_ids: list[int], tiers) -> dict[int, PointsAccount]:
    """The members' accounts, locked in primary-key order; opened at the entry tier on first use.

    The caller holds the members' row locks, so no one else opens these accounts meanwhile.
    """
    by_id = {tier.pk: tier for tier in tiers}

    def lock(ids):
        found = {}
        for start in range(0, len(ids), _CHUNK):
            for account in (
                PointsAccount.objects.select_for_update()
                .filter(AnyOf(F("member_id"), ids[start : start + _CHUNK]))
                .order_by("pk")
            ):
                account.tier = by_id[account.tier_id]
                found[account.member_id] = account
        return found

    accounts = lock(member_ids)
    missing = [member_id for member_id in member_ids if member_id not in accounts]
    if missing:
        PointsAccount.objects.bulk_create(
            [PointsAccount(member_id=member_id, tier=tiers[0]) for member_id in missing], ignore_conflicts=True
        )
        accounts.update(lock(missing))
    return accounts


def _replayed(draft: PurchaseDraft, purchase: Purchase, posting: PurchasePosting) -> PostingResult:
    return PostingResult(
        purchase=purchase,
        points_earned=posting.points_earned,
        points_balance=posting.points_balance,
        tier=posting.tier,
        tier_changed=posting.tier_changed,
        created=False,
    )


@transaction.atomic
def post_purchases_batch(*, drafts: list[PurchaseDraft], actor=None, recheck_refs: bool = True) -> BatchResult:
    """Post many purchases as `post_purchase` would post them one by one, in bulk (see the module
    docstring). Each member's purchases are posted in `ordered_at` order (then by reference), so
    tiers evolve as they happened; give a member's purchases to successive batches in time order.

    All or nothing: a purchase refused by `members` (ValidationError, MemberErased,
    DuplicatePurchase) refuses the batch. Returns one outcome per draft, in the drafts' order.

    `recheck_refs` False: `members` does not look the new references up again under the members'
    row locks (`record_purchases(refs_checked=True)`), so a reference a concurrent posting took
    since the look-up here fails the batch with IntegrityError, not DuplicatePurchase — for a
    caller that takes either as "taken meanwhile" (`post_purchases_each`).
    """
    refs = [(draft.external_ref or "").strip() for draft in drafts]
    twice = [ref for ref, count in Counter(refs).items() if count > 1]
    if twice:
        raise members_services.DuplicatePurchase(
            _("A purchase with the external reference “%(ref)s” is already recorded.") % {"ref": twice[0]}
        )
    fingerprints = [fingerprint_of(draft) for draft in drafts]
    outcomes: list[BatchOutcome | None] = [None] * len(drafts)
    recorded = recorded_purchases(ref for ref in refs if ref)
    new = []
    for index, (draft, ref) in enumerate(zip(drafts, refs, strict=True)):
        if ref in recorded:
            purchase, posting = recorded[ref]
            if posting is not None and posting.fingerprint == fingerprints[index]:
                outcomes[index] = BatchOutcome(ref, REPLAYED, _replayed(draft, purchase, posting))
            else:
                outcomes[index] = BatchOutcome(ref, CONFLICT, detail=conflict_detail(ref, posting))
        else:
            new.append(index)
    new.sort(key=lambda i: (drafts[i].member.pk, drafts[i].ordered_at, refs[i]))
    if new:
        _post_new(
            new,
            drafts=drafts,
            refs=refs,
            fingerprints=fingerprints,
            outcomes=outcomes,
            actor=actor,
            refs_checked=not recheck_refs,
        )
    return BatchResult(outcomes=outcomes)


_ENTRY_FIELDS = (
    "account_id",
    "member_id",
    "kind",
    "points",
    "balance_after",
    "purchase_id",
    "reason_code",
    "reason_params",  # JSON text: COPY and SQLite take it as it is
    "reason",
    "actor_id",
)
_LOT_FIELDS = ("entry_id", "account_id", "points", "remaining", "expired", "expires_on")
_POSTING_FIELDS = (
    "purchase_id",
    "fingerprint",
    "points_earned",
    "points_balance",
    "tier_id",
    "tier_changed",
    "points_reversed",
    "created_at",
)


def _post_new(new: list[int], *, drafts, refs, fingerprints, outcomes, actor, refs_checked: bool) -> None:
    # Members first: their checks, their row locks (pk order), the purchase rows.
    purchases = members_services.record_purchases(
        drafts=[drafts[i] for i in new], actor=actor, refs_checked=refs_checked
    )
    tiers = selectors.tiers()
    accounts = _lock_or_open_accounts(sorted({drafts[i].member.pk for i in new}), tiers)
    context = _load_context(purchases, accounts)
    policy = context.policy
    expiry_kind, expiry_months = ledger.active_expiry_policy()
    expiry_dates: dict[datetime.date, datetime.date] = {}
    expired_params: dict[datetime.date, str] = {}  # JSON text, once per date
    today = timezone.localdate()
    now = timezone.now()
    actor_id = getattr(ledger.real_actor(actor), "pk", None)
    # The reason is a code and its parameters (`rewards.ledger_reasons`), rendered when read.
    purchase_reason, expired_reason = LedgerEntry.Reason.PURCHASE.value, LedgerEntry.Reason.EXPIRED_AT_ONCE.value
    earn, expire = LedgerEntry.Kind.EARN.value, LedgerEntry.Kind.EXPIRE.value
    by_spend = policy.basis == TierPolicy.Basis.WINDOW_SPEND
    entries: list[tuple] = []  # _ENTRY_FIELDS + created_at
    lots: list[tuple] = []  # (index of the credit in `entries`, then _LOT_FIELDS[1:])
    postings: list[tuple] = []
    histories: list[TierHistory] = []
    for index, purchase in zip(new, purchases, strict=True):
        member_id = purchase.member_id
        account = accounts[member_id]
        account_id, purchase_id = account.id, purchase.id
        earned_on = context.day_of(purchase.ordered_at)
        points = _points_for(purchase=purchase, account=account, context=context, day=earned_on)
        account.lifetime_spend += purchase.total
        if points:
            expires_on = expiry_dates.get(earned_on)
            if expires_on is None:
                expires_on = expiry_dates[earned_on] = rules.expiry_date(earned_on, expiry_kind, expiry_months)
            move = ledger.move_credit(account, kind=earn, points=points, expires_on=expires_on, today=today)
            lots.append((len(entries), account_id, points, move.remaining, move.expired, expires_on))
            entries.append(
                (
                    account_id,
                    member_id,
                    earn,
                    points,
                    move.balance_after,
                    purchase_id,
                    purchase_reason,
                    json.dumps({"ref": refs[index]}),
                    "",
                    actor_id,
                    now,
                )
            )
            if move.expired:
                params = expired_params.get(expires_on)
                if params is None:
                    params = expired_params[expires_on] = json.dumps(ledger.expired_at_once_params(expires_on))
                entries.append(
                    (
                        account_id,
                        member_id,
                        expire,
                        -move.expired,
                        move.balance_after_expiry,
                        purchase_id,
                        expired_reason,
                        params,
                        "",
                        actor_id,
                        now,
                    )
                )
        figure = None
        if context.window_start is not None:
            figure = context.window.get(member_id, Decimal("0.00"))
            if purchase.ordered_at >= context.window_start:
                figure = context.window[member_id] = figure + (purchase.total if by_spend else points)
        history = ledger.plan_retier(
            account,
            tiers=tiers,
            reason=TierHistory.Reason.PURCHASE,
            purchase=purchase,
            upgrade_only=True,
            policy=policy,
            figure=figure,
        )
        changed = history is not None
        if changed:
            histories.append(history)
        postings.append((purchase_id, fingerprints[index], points, account.balance, account.tier_id, changed, 0, now))
        outcomes[index] = BatchOutcome(
            refs[index],
            POSTED,
            PostingResult(
                purchase=purchase,
                points_earned=points,
                points_balance=account.balance,
                tier=account.tier,
                tier_changed=changed,
                created=True,
            ),
        )
    entry_ids = bulk.insert_rows(LedgerEntry, (*_ENTRY_FIELDS, "created_at"), entries)
    bulk.insert_rows(PointsLot, _LOT_FIELDS, [(entry_ids[lot[0]], *lot[1:]) for lot in lots])
    bulk.insert_rows(PurchasePosting, _POSTING_FIELDS, postings)
    bulk.insert_new(TierHistory, histories)
    tier_rules.announce_tier_changes(history.member_id for history in histories)
    _sql.save_accounts(list(accounts.values()))


@transaction.atomic
def post_purchases_each(*, drafts: list[PurchaseDraft], actor=None) -> BatchResult:
    """`post_purchases_batch` for a till's offline sync (POST /api/v1/purchases/batch/): one refused
    purchase never refuses the others, and nothing is posted twice. The rule:

    1. A reference given twice in the drafts is posted once, from its first draft; a later draft with
       the same content answers the first's result (REPLAYED), with other content it is a CONFLICT
       (as `post_purchase` answers a retry).
    2. The others go to `post_purchases_batch` at once, which answers references already posted
       (REPLAYED or CONFLICT) and posts the rest exactly as one-by-one posting would.
    3. When `members` refuses a purchase (ValidationError, MemberErased, DuplicatePurchase) or a
       concurrent posting took a reference first (the unique index's IntegrityError), that
       attempt's savepoint is rolled back and its drafts, ordered as the batch orders them (member,
       time, reference), are posted again in two halves, down to the single purchase, whose
       refusal is its outcome (REFUSED with the error). Drafts meeting a reference taken
       concurrently are first tried once more as they are: the taken references are then answered
       like any posted reference. A clean batch costs one attempt; k refused purchases about
       k·log2(n) more.

    Returns one outcome per draft, in the drafts' order.
    """
    refs = [(draft.external_ref or "").strip() for draft in drafts]
    outcomes: list[BatchOutcome | None] = [None] * len(drafts)
    first_of: dict[str, int] = {}
    repeats: list[int] = []
    for index, ref in enumerate(refs):
        if ref in first_of:
            repeats.append(index)
        else:
            first_of[ref] = index
    order = sorted(first_of.values(), key=lambda i: (drafts[i].member.pk, drafts[i].ordered_at, refs[i]))
    _attempt(order, drafts=drafts, outcomes=outcomes, actor=actor, retried=False)
    for index in repeats:
        first = outcomes[first_of[refs[index]]]
        if first.status in (POSTED, REPLAYED):
            if fingerprint_of(drafts[index]) == fingerprint_of(drafts[first_of[refs[index]]]):
                outcomes[index] = BatchOutcome(refs[index], REPLAYED, first.result)
            else:
                outcomes[index] = BatchOutcome(
                    refs[index], CONFLICT, detail=conflict_detail(refs[index], first.result.purchase)
                )
        else:  # the first draft's refusal or conflict stands for its repeats
            outcomes[index] = BatchOutcome(refs[index], first.status, detail=first.detail, error=first.error)
    return BatchResult(outcomes=outcomes)


def _attempt(indices: list[int], *, drafts, outcomes, actor, retried: bool) -> None:
    """Post `indices` in one savepoint; on a refusal, split them (step 3 of `post_purchases_each`)."""
    if not indices:
        return
    try:
        # The batch's own look-up of the references stands: one taken meanwhile is an IntegrityError.
        result = post_purchases_batch(drafts=[drafts[i] for i in indices], actor=actor, recheck_refs=False)
    except (ValidationError, members_services.MemberErased, members_services.DuplicatePurchase, IntegrityError) as exc:
        # post_purchases_batch's own savepoint is rolled back: nothing of these drafts is written.
        taken = isinstance(exc, IntegrityError | members_services.DuplicatePurchase)
        if taken and not retried:
            # Another posting took a reference and has committed by now (we waited on its row
            # locks): once more as is, and the taken references are answered as already posted.
            _attempt(indices, drafts=drafts, outcomes=outcomes, actor=actor, retried=True)
            return
        if len(indices) == 1:
            if isinstance(exc, IntegrityError):
                raise
            outcomes[indices[0]] = BatchOutcome(drafts[indices[0]].external_ref.strip(), REFUSED, error=exc)
            return
        half = len(indices) // 2
        _attempt(indices[:half], drafts=drafts, outcomes=outcomes, actor=actor, retried=False)
        _attempt(indices[half:], drafts=drafts, outcomes=outcomes, actor=actor, retried=False)
        return
    for index, outcome in zip(indices, result.outcomes, strict=True):
        outcomes[index] = outcome
