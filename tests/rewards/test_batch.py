"""The batch posting service (rewards.services.batch) against `post_purchase`, one by one.

The equivalence test is the merge guard: whatever the earning rules become, posting a data set
through the batch must give exactly what posting it one purchase at a time gives.
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Member, Purchase
from members.services import DuplicatePurchase, MemberErased, PurchaseDraft, PurchaseLine, erase_member
from rewards import rules, services
from rewards.models import (
    EARNING_CONFIG_CACHE_KEY,
    EXPIRY_POLICY_CACHE_KEY,
    TIER_POLICY_CACHE_KEY,
    EarningSettings,
    EarnRule,
    ExpiryPolicy,
    LedgerEntry,
    MembershipPlan,
    PointsAccount,
    PointsLot,
    Promotion,
    PurchasePosting,
    Tier,
    TierHistory,
    TierPolicy,
)
from rewards.services import batch
from tests.members import factories
from tests.rewards.helpers import assert_ledger_invariants, line, post

pytestmark = pytest.mark.django_db

CATALOGUE = [  # sku, price, category code
    ("ROSE-11", "199.00", "roses"),
    ("ROSE-99", "999.00", "roses"),
    ("LILY-3", "88.50", "lilies"),
    ("VASE-1", "120.00", "vases"),
    ("CARD-1", "9.90", "cards"),
]


def _catalogue():
    categories = {code: factories.category(code, code.title()) for code in ("roses", "lilies", "vases", "cards")}
    for sku, price, code in CATALOGUE:
        factories.product(sku, sku, price, categories[code])
    EarnRule.objects.create(name="Roses x2", kind="category", rate=2, category=categories["roses"])
    EarnRule.objects.create(name="Vase x1.5", kind="product", rate=Decimal("1.5"), product_id=_product_id("VASE-1"))


def _product_id(sku):
    from members.models import Product

    return Product.objects.get(sku=sku).pk


def _data_set(seed: int, members: int) -> list[dict]:
    """Purchases of `members` people over four years (some points expire at once), random lines,
    some with an order discount or an explicit category label, in one of two stores or online;
    about a third on a day the person already bought on (the daily cap)."""
    rng = random.Random(seed)
    now = timezone.now()
    purchases = []
    for person in range(members):
        days: list[datetime.datetime] = []
        for number in range(rng.randint(1, 9)):
            items = []
            for _line in range(rng.choice([1, 1, 2, 3])):
                sku, price, code = rng.choice(CATALOGUE)
                label = rng.choice(["", "", code, "lilies", "New label"])
                discount = Decimal("5.00") if rng.random() < 0.2 else Decimal("0.00")
                items.append(
                    PurchaseLine(
                        sku=sku,
                        quantity=rng.randint(1, 4),
                        unit_price=Decimal(price),
                        category=label,
                        discount=discount,
                    )
                )
            gross = sum(i.unit_price * i.quantity - i.discount for i in items)
            total = (gross - Decimal("30.00")) if gross > 300 and rng.random() < 0.3 else None
            if days and rng.random() < 0.35:  # the same local day as an earlier one (never in the future)
                ordered_at = min(rng.choice(days) + datetime.timedelta(minutes=rng.randint(-99, 99)), now)
            else:
                ordered_at = now - datetime.timedelta(days=rng.randint(0, 4 * 365), minutes=rng.randint(0, 999))
            days.append(ordered_at)
            purchases.append(
                {
                    "person": person,
                    "ref": f"{person}-{number}",
                    "ordered_at": ordered_at,
                    "items": items,
                    "total": total,
                    "channel": rng.choice(["store", "wechat", "online"]),
                    "store": rng.choice([0, 1, None]),
                }
            )
    rng.shuffle(purchases)  # the service orders them itself
    return purchases


def _twins(count: int, prefix: str, start: datetime.datetime) -> list[Member]:
    """`count` members; the third starts with a debt (points spent, then the purchase refunded)."""
    people = [factories.member(name=f"{prefix}{i}") for i in range(count)]
    debtor = people[2]
    first = post(debtor, "300.00", ref=f"{prefix}-OLD", ordered_at=start)
    services.adjust_points(member=debtor, points=-250, reason="spent", actor=None)
    services.refund_purchase(purchase=first.purchase, external_ref=f"{prefix}-R", actor=None)
    return people


def _draft(people, prefix, row, stores) -> PurchaseDraft:
    return PurchaseDraft(
        member=people[row["person"]],
        external_ref=f"{prefix}{row['ref']}",
        ordered_at=row["ordered_at"],
        items=row["items"],
        store=None if row.get("store") is None else stores[row["store"]],
        channel=row["channel"],
        total=row["total"],
    )


def _picture(member: Member, prefix: str) -> dict:
    """Everything the postings left for a member, without ids, references or timestamps."""

    def ref(text):
        return (text or "").replace(prefix, "#")

    account = PointsAccount.objects.get(member=member)
    purchases = Purchase.objects.filter(member=member).order_by("ordered_at", "external_ref")
    return {
        "account": (
            account.balance,
            account.lifetime_earned,
            account.lifetime_spend,
            account.tier.code,
            account.below_since,
        ),
        "purchases": [
            (
                ref(p.external_ref),
                p.ordered_at,
                p.store_id,
                p.channel,
                p.subtotal,
                p.discount_total,
                p.total,
                [
                    (i.sku, i.name, i.category_id, i.product_id, i.quantity, i.unit_price, i.discount, i.line_total)
                    for i in p.items.order_by("id")
                ],
            )
            for p in purchases
        ],
        "ledger": [
            (e.kind, e.points, e.balance_after, ref(e.purchase.external_ref if e.purchase else ""), ref(e.reason))
            for e in LedgerEntry.objects.filter(member=member).select_related("purchase").order_by("id")
        ],
        "lots": [
            (lot.points, lot.remaining, lot.expired, lot.expires_on, ref(lot.entry.purchase.external_ref))
            for lot in PointsLot.objects.filter(account=account).select_related("entry__purchase").order_by("id")
        ],
        "postings": [
            (ref(p.purchase.external_ref), p.points_earned, p.points_balance, p.tier.code, p.tier_changed)
            for p in PurchasePosting.objects.filter(purchase__member=member)
            .select_related("purchase", "tier")
            .order_by("purchase__ordered_at", "purchase__external_ref")
        ],
        "tiers": [
            (
                h.from_tier.code if h.from_tier else None,
                h.to_tier.code,
                h.reason,
                ref(h.purchase.external_ref if h.purchase else ""),
                h.basis,
                h.window_months,
                h.figure,
            )
            for h in TierHistory.objects.filter(member=member)
            .select_related("from_tier", "to_tier", "purchase")
            .order_by("id")
        ],
    }


@pytest.fixture
def forget_cached_rules():
    """Postings cache the earning configuration and the tier policy; a test's rules must not
    outlive its rolled-back rows (rollbacks send no signals)."""
    keys = [EARNING_CONFIG_CACHE_KEY, TIER_POLICY_CACHE_KEY, EXPIRY_POLICY_CACHE_KEY]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


DAILY_CAP = 2500


def _configure_rules(stores, twins: list[list[Member]]) -> None:
    """Every kind of rule `earning.points_for_purchase` knows, and a rolling-window tier policy:
    tier multipliers (the tier held when buying), a store promotion over the last 400 days, a
    channel bonus over the last two years, a minimum spend, per-purchase and per-day caps, and a
    paid plan (points multiplier) held by two of the people in both twin sets."""
    EarnRule.objects.create(name="Silver 1.5x", kind="tier", rate=Decimal("1.5"), tier=Tier.objects.get(code="silver"))
    EarnRule.objects.create(name="Gold 2x", kind="tier", rate=Decimal("2"), tier=Tier.objects.get(code="gold"))
    now = timezone.now()
    double = Promotion.objects.create(
        name="Store double",
        kind=Promotion.Kind.MULTIPLIER,
        multiplier=Decimal("2"),
        starts_at=now - datetime.timedelta(days=400),
        ends_at=now + datetime.timedelta(days=1),
    )
    double.stores.set([stores[1]])
    Promotion.objects.create(
        name="WeChat bonus",
        kind=Promotion.Kind.BONUS,
        bonus_points=25,
        starts_at=now - datetime.timedelta(days=730),
        ends_at=now + datetime.timedelta(days=1),
        channels=["wechat"],
    )
    settings_row, _created = EarningSettings.objects.get_or_create(pk=EarningSettings.SINGLETON_PK)
    settings_row.min_spend = Decimal("20.00")
    settings_row.max_points_per_purchase = 4000
    settings_row.max_points_per_day = DAILY_CAP
    settings_row.save()
    plan = MembershipPlan.objects.get(code="annual-plus")
    assert plan.points_multiplier > 1
    for prefix, people in zip("AB", twins, strict=True):
        for person in (0, 1):
            services.buy_membership(
                member=people[person],
                plan=plan,
                external_ref=f"PLAN-{prefix}{person}",
                starts_on=timezone.localdate() - datetime.timedelta(days=200 + 100 * person),
            )
    policy = TierPolicy.objects.get()
    policy.basis = TierPolicy.Basis.WINDOW_SPEND
    policy.window_months = 12
    policy.save()
    cache.delete_many([EARNING_CONFIG_CACHE_KEY, TIER_POLICY_CACHE_KEY])


@pytest.mark.parametrize(("seed", "configured"), [(1, False), (1, True), (2, True), (3, True)])
def test_batch_posting_equals_posting_one_by_one(seed, configured, forget_cached_rules):
    """Posting one data set both ways gives the same rows — under the seeded defaults, and under
    tier multipliers, promotions, caps, a paid plan and a rolling-window tier policy. The last
    batch adds purchases on days that already hold postings (the daily cap read back from the
    database), after purchases made later in time."""
    _catalogue()
    stores = [factories.store(), factories.store("sh-002", "上海徐汇店")]
    data = _data_set(seed, members=8)
    start = timezone.now() - datetime.timedelta(days=3)
    one_by_one, batched = _twins(8, "A", start), _twins(8, "B", start)
    if configured:
        _configure_rules(stores, [one_by_one, batched])
    chronological = sorted(data, key=lambda row: (row["ordered_at"], row["ref"]))
    rng = random.Random(seed)
    extras = [
        {**rng.choice(chronological), "ref": f"X-{number}", "channel": "store", "store": 0} for number in range(6)
    ] + [{**chronological[0], "person": 2, "ref": "X-OLD", "ordered_at": start, "store": None}]
    extras.sort(key=lambda row: (row["ordered_at"], row["ref"]))

    def post_one(row):
        draft = _draft(one_by_one, "A", row, stores)
        services.post_purchase(
            member=draft.member,
            external_ref=draft.external_ref,
            ordered_at=draft.ordered_at,
            items=draft.items,
            store=draft.store,
            channel=draft.channel,
            total=draft.total,
        )

    for row in chronological + extras:
        post_one(row)
    # Two batches, split in time, each member's purchases in time order across them; then the extras.
    half = len(chronological) // 2
    results = [
        batch.post_purchases_batch(drafts=[_draft(batched, "B", row, stores) for row in rows])
        for rows in (chronological[:half], chronological[half:], extras)
    ]
    assert sum(result.count(batch.POSTED) for result in results) == len(data) + len(extras)
    for a, b in zip(one_by_one, batched, strict=True):
        assert _picture(a, "A") == _picture(b, "B")
        assert_ledger_invariants(b)
    assert TierHistory.objects.filter(member__in=batched).exists()  # the data set does move tiers
    assert LedgerEntry.objects.filter(member__in=batched, kind="expire").exists()  # and back-dated lots expire
    if configured:  # and the rules do bite
        assert TierHistory.objects.filter(member__in=batched, basis="window_spend").exists()
        capped_days = Counter()
        for posting in PurchasePosting.objects.filter(purchase__member__in=batched).select_related("purchase"):
            capped_days[(posting.purchase.member_id, timezone.localdate(posting.purchase.ordered_at))] += (
                posting.points_earned
            )
        assert DAILY_CAP in capped_days.values()


def test_batch_answers_like_post_purchase_in_the_drafts_order(member_with_history):
    member = member_with_history
    later = timezone.now() - datetime.timedelta(hours=1)
    earlier = later - datetime.timedelta(days=1)
    drafts = [
        PurchaseDraft(member=member, external_ref="B-2", ordered_at=later, items=[line("700.00")]),
        PurchaseDraft(member=member, external_ref="B-1", ordered_at=earlier, items=[line("400.00")]),
    ]
    result = batch.post_purchases_batch(drafts=drafts)
    second, first = (outcome.result for outcome in result.outcomes)
    # B-1 came first in time: 100 (history) + 400 = 500, then B-2 crosses 1,000.
    assert (first.points_earned, first.points_balance, first.tier.code, first.tier_changed) == (
        400,
        500,
        "regular",
        False,
    )
    assert (second.points_earned, second.points_balance, second.tier.code, second.tier_changed) == (
        700,
        1200,
        "silver",
        True,
    )
    assert (result.points_earned, result.tier_changes) == (1100, 1)


@pytest.fixture
def member_with_history():
    member = factories.member()
    post(member, "100.00", ordered_at=timezone.now() - datetime.timedelta(days=5))
    return member


def test_an_api_retry_of_a_batch_posted_reference_answers_the_first_result(member_with_history):
    member = member_with_history
    ordered_at = timezone.now() - datetime.timedelta(hours=2)
    batch.post_purchases_batch(
        drafts=[PurchaseDraft(member=member, external_ref="IMP-1", ordered_at=ordered_at, items=[line("50.00")])]
    )
    retry = post(member, ref="IMP-1", ordered_at=ordered_at, items=[line("50.00")])
    assert (retry.created, retry.points_earned, retry.points_balance) == (False, 50, 150)


def test_already_posted_references_are_replayed_and_different_ones_are_conflicts(member_with_history):
    member = member_with_history
    at = timezone.now() - datetime.timedelta(hours=2)
    post(member, ref="SAME", ordered_at=at, items=[line("10.00")])
    post(member, ref="OTHER", ordered_at=at, items=[line("10.00")])
    result = batch.post_purchases_batch(
        drafts=[
            PurchaseDraft(member=member, external_ref="SAME", ordered_at=at, items=[line("10.00")]),
            PurchaseDraft(member=member, external_ref="OTHER", ordered_at=at, items=[line("99.00")]),
            PurchaseDraft(member=member, external_ref="NEW", ordered_at=at, items=[line("5.00")]),
        ]
    )
    assert [o.status for o in result.outcomes] == [batch.REPLAYED, batch.CONFLICT, batch.POSTED]
    assert result.outcomes[0].result.points_earned == 10
    assert "different purchase" in result.outcomes[1].detail
    assert Purchase.objects.filter(member=member).count() == 4
    assert_ledger_invariants(member)


def test_a_reference_recorded_without_points_is_a_conflict(member_with_history):
    member = member_with_history
    factories.purchase(member, ref="NO-POINTS")
    result = batch.post_purchases_batch(
        drafts=[PurchaseDraft(member=member, external_ref="NO-POINTS", ordered_at=timezone.now(), items=[line("5")])]
    )
    assert result.outcomes[0].status == batch.CONFLICT
    assert "without points" in result.outcomes[0].detail


def test_an_erased_member_refuses_the_whole_batch(member_with_history):
    other = factories.member(name="李四")
    erase_member(member=other)
    at = timezone.now() - datetime.timedelta(hours=1)
    with pytest.raises(MemberErased):
        batch.post_purchases_batch(
            drafts=[
                PurchaseDraft(member=member_with_history, external_ref="OK-1", ordered_at=at, items=[line("5")]),
                PurchaseDraft(member=other, external_ref="ERASED-1", ordered_at=at, items=[line("5")]),
            ]
        )
    assert not Purchase.objects.filter(external_ref__in=["OK-1", "ERASED-1"]).exists()


def test_the_same_reference_twice_in_a_batch_is_refused(member_with_history):
    at = timezone.now() - datetime.timedelta(hours=1)
    draft = PurchaseDraft(member=member_with_history, external_ref="TWICE", ordered_at=at, items=[line("5")])
    with pytest.raises(DuplicatePurchase):
        batch.post_purchases_batch(drafts=[draft, draft])


@pytest.fixture
def forget_cached_policy():
    """Postings cache the active policy; a test's policy must not outlive its rolled-back rows."""
    cache.delete(EXPIRY_POLICY_CACHE_KEY)
    yield
    cache.delete(EXPIRY_POLICY_CACHE_KEY)


def test_the_active_expiry_policy_dates_the_lots(member_with_history, forget_cached_policy):
    ExpiryPolicy.objects.update(is_active=False)
    ExpiryPolicy.objects.create(kind="rolling", months=6, is_active=True)
    at = timezone.now() - datetime.timedelta(days=3)
    batch.post_purchases_batch(
        drafts=[PurchaseDraft(member=member_with_history, external_ref="R-1", ordered_at=at, items=[line("10")])]
    )
    lot = PointsLot.objects.get(entry__purchase__external_ref="R-1")
    assert lot.expires_on == rules.expiry_date(timezone.localdate(at), "rolling", 6)


def test_a_batch_runs_a_fixed_number_of_queries_whatever_its_size():
    _catalogue()

    def run(count, prefix):
        people = [factories.member(name=f"{prefix}{i}") for i in range(count)]
        at = timezone.now() - datetime.timedelta(days=1)
        drafts = [
            PurchaseDraft(
                member=person, external_ref=f"{prefix}-{i}", ordered_at=at, items=[line("1200.00", sku="LILY-3")]
            )
            for i, person in enumerate(people)
        ]
        with CaptureQueriesContext(connection) as queries:
            batch.post_purchases_batch(drafts=drafts)
        return len(queries)

    run(1, "W")  # warms the cached expiry policy
    assert run(3, "S") == run(30, "L")  # every purchase here also upgrades its member to silver
    assert TierHistory.objects.filter(to_tier__code="silver").count() == 34
