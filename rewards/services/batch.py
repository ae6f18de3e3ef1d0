"""Posting many purchases at once: `post_purchase`'s rules, with bulk writes.

`post_purchases_batch` gives exactly what posting the same purchases one by one through
`post_purchase` (in the order of their `ordered_at` per member) gives — the same purchases and
lines, ledger rows, lots, postings, balances, lifetime figures and tier history (a test posts one
generated data set both ways and compares) — in a fixed number of queries per batch:

- the purchases are recorded by `members.services.record_purchases` (members' own checks and row
  locks, bulk inserts);
- the accounts are locked (opened at the entry tier on first use) in primary-key order, after
  the members, as every writer does (rewards.lock_objects);
- per member, in `ordered_at` order, the points come from `_points_for` (the same computation as
  `post_purchase`'s), the credit from `ledger.plan_credit` (the same expiry policy, debt
  repayment and immediate expiry of back-dated lots as `ledger.credit`), the tier from
  `ledger.plan_retier` (`ledger.retier`'s rule: upgrade only, with history, as on a posting);
- ledger rows, lots, postings and tier history are then inserted in bulk (COPY on PostgreSQL) and the accounts
  updated with one statement per chunk.

Idempotent on `external_ref` like `post_purchase`: a reference already posted with the same
content is answered from its posting ("replayed", nothing written); one posted with different
content, or recorded without points, is a conflict and is left out (the caller decides whether
that fails the whole run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import bulk
from members import services as members_services
from members.models import Purchase
from members.services import PurchaseDraft
from rewards import rules, selectors
from rewards.models import LedgerEntry, PointsAccount, PointsLot, PurchasePosting, TierHistory
from rewards.services import ledger
from rewards.services.purchases import PostingResult, request_fingerprint

POSTED = "posted"
REPLAYED = "replayed"
CONFLICT = "conflict"

_CHUNK = 10_000  # ids per IN (...) list


@dataclass(frozen=True)
class BatchOutcome:
    external_ref: str
    status: str  # POSTED, REPLAYED (already posted with the same content) or CONFLICT
    result: PostingResult | None = None  # None for a conflict
    detail: str = ""  # why it is a conflict


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
    the purchase was recorded without points). One query per 10,000 references."""
    refs = sorted(set(external_refs))
    found: dict[str, tuple[Purchase, PurchasePosting | None]] = {}
    for start in range(0, len(refs), _CHUNK):
        for purchase in Purchase.objects.filter(external_ref__in=refs[start : start + _CHUNK]).select_related(
            "member", "posting", "posting__tier"
        ):
            posting = getattr(purchase, "posting", None)
            found[purchase.external_ref] = (purchase, posting)
    return found


def conflict_detail(external_ref: str, posting: PurchasePosting | None) -> str:
    """The message `post_purchase` gives for a reference it cannot post again."""
    if posting is None:
        return _("The purchase “%(ref)s” was recorded without points (e.g. imported); it cannot be posted again.") % {
            "ref": external_ref
        }
    return _("The external reference “%(ref)s” was already used for a different purchase.") % {"ref": external_ref}


def _points_for(*, purchase: Purchase, account: PointsAccount, earn_rules: list[rules.Rule]) -> int:
    """THE computation of a purchase's points in a batch — keep it the same as `post_purchase`'s
    (rewards.services.purchases._post_new): tests/rewards/test_batch.py posts one data set both
    ways and compares. `account` is the member's account as it stands just before this purchase
    (tier, balance, lifetime figures after the member's earlier purchases of the batch)."""
    lines = [
        rules.Line(sku=item.sku, line_total=item.line_total, product_id=item.product_id, category_id=item.category_id)
        for item in purchase.lines
    ]
    return rules.preview_points(lines, earn_rules, paid=purchase.total).points


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
                .filter(member_id__in=ids[start : start + _CHUNK])
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


def _save_accounts(accounts: list[PointsAccount]) -> None:
    """`ledger.save_account` for many accounts: one UPDATE … FROM (VALUES …) per chunk."""
    if not accounts:
        return
    now = timezone.now()
    quote = connection.ops.quote_name
    table = quote(PointsAccount._meta.db_table)
    names = ["id", "balance", "lifetime_earned", "lifetime_spend", "tier_id"]
    spend = PointsAccount._meta.get_field("lifetime_spend")
    rows = [
        [a.pk, a.balance, a.lifetime_earned, spend.get_db_prep_save(a.lifetime_spend, connection), a.tier_id]
        for a in accounts
    ]
    columns = ", ".join(names)
    marks = "(" + ", ".join(["%s"] * len(names)) + ")"
    size = max(1, ((connection.features.max_query_params or 30_000) - 1) // len(names))
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            values = ", ".join([marks] * len(chunk))
            params = [value for row in chunk for value in row]
            if postgres:
                sql = (
                    f"UPDATE {table} AS a SET balance = v.balance, lifetime_earned = v.lifetime_earned, "  # noqa: S608 (names from the model; values are parameters)
                    f"lifetime_spend = v.lifetime_spend::numeric, tier_id = v.tier_id, updated_at = %s "
                    f"FROM (VALUES {values}) AS v ({columns}) WHERE a.id = v.id"
                )
                cursor.execute(sql, [now, *params])
            else:
                sql = (
                    f"WITH v ({columns}) AS (VALUES {values}) "  # noqa: S608 (names from the model; values are parameters)
                    f"UPDATE {table} SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
                    f"lifetime_spend = v.lifetime_spend, tier_id = v.tier_id, updated_at = %s "
                    f"FROM v WHERE {table}.id = v.id"
                )
                cursor.execute(sql, [*params, now])


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
def post_purchases_batch(*, drafts: list[PurchaseDraft], actor=None) -> BatchResult:
    """Post many purchases as `post_purchase` would post them one by one, in bulk (see the module
    docstring). Each member's purchases are posted in `ordered_at` order (then by reference), so
    tiers evolve as they happened; give a member's purchases to successive batches in time order.

    All or nothing: a purchase refused by `members` (ValidationError, MemberErased,
    DuplicatePurchase) refuses the batch. Returns one outcome per draft, in the drafts' order.
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
        _post_new(new, drafts=drafts, refs=refs, fingerprints=fingerprints, outcomes=outcomes, actor=actor)
    return BatchResult(outcomes=outcomes)


def _post_new(new: list[int], *, drafts, refs, fingerprints, outcomes, actor) -> None:
    # Members first: their checks, their row locks (pk order), the purchase rows.
    purchases = members_services.record_purchases(drafts=[drafts[i] for i in new], actor=actor)
    tiers = selectors.tiers()
    earn_rules = selectors.active_earn_rules()
    accounts = _lock_or_open_accounts(sorted({drafts[i].member.pk for i in new}), tiers)
    entries: list[LedgerEntry] = []
    lots: list[PointsLot] = []
    postings: list[PurchasePosting] = []
    histories: list[TierHistory] = []
    for index, purchase in zip(new, purchases, strict=True):
        draft = drafts[index]
        account = accounts[draft.member.pk]
        points = _points_for(purchase=purchase, account=account, earn_rules=earn_rules)
        account.lifetime_spend += purchase.total
        if points:
            credit_entries, lot = ledger.plan_credit(
                account,
                kind=LedgerEntry.Kind.EARN,
                points=points,
                earned_on=timezone.localdate(draft.ordered_at),
                purchase=purchase,
                reason=_("Purchase %(ref)s") % {"ref": refs[index]},
                actor=actor,
            )
            entries += credit_entries
            lots.append(lot)
        history = ledger.plan_retier(
            account, tiers=tiers, reason=TierHistory.Reason.PURCHASE, purchase=purchase, upgrade_only=True
        )
        changed = history is not None
        if changed:
            histories.append(history)
        postings.append(
            PurchasePosting(
                purchase=purchase,
                fingerprint=fingerprints[index],
                points_earned=points,
                points_balance=account.balance,
                tier=account.tier,
                tier_changed=changed,
            )
        )
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
    bulk.insert_new(LedgerEntry, entries)
    bulk.insert_new(PointsLot, lots)  # each lot's entry got its id just above
    bulk.insert_new(PurchasePosting, postings)
    bulk.insert_new(TierHistory, histories)
    _save_accounts(list(accounts.values()))
