"""The posting's one-row inserts prepare each value with `loyalty_crm.bulk.insert_preparers`
(issue 20): the value must be what `save()` sends — Django's `get_db_prep_save(pre_save(...))`."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from loyalty_crm.bulk import insert_preparers
from members.models import Purchase, PurchaseItem
from rewards import selectors
from rewards.models import LedgerEntry, PointsAccount, PointsLot, PurchasePosting
from tests.members import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the posting's one-row inserts are PostgreSQL's"),
]


def _django_values(obj) -> dict:
    fields = [f for f in obj._meta.concrete_fields if not f.primary_key]
    return {f.attname: f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields}


def _preparer_values(obj) -> dict:
    fields = [f for f in obj._meta.concrete_fields if not f.primary_key]
    return {f.attname: prepare(obj) for f, prepare in zip(fields, insert_preparers(fields), strict=True)}


def _same(obj) -> None:
    ours = _preparer_values(obj)
    django = _django_values(obj)
    for name, value in django.items():
        if name in ("created_at", "updated_at"):  # auto_now: "now" at each call
            assert isinstance(ours[name], type(value)), name
            assert abs(ours[name] - value) < datetime.timedelta(seconds=5), name
            continue
        assert type(ours[name]) is type(value), (name, ours[name], value)
        if hasattr(value, "obj"):  # psycopg's Jsonb wrapper compares by identity: compare what it wraps
            assert ours[name].obj == value.obj, name
        else:
            assert ours[name] == value, (name, ours[name], value)


def test_the_posting_rows_are_prepared_as_save_prepares_them():
    member = factories.member()
    store = factories.store()
    purchase = Purchase(
        member=member,
        store=store,
        external_ref="PREP-1",
        channel="store",
        ordered_at=timezone.now(),
        subtotal=Decimal("12.50"),
        total=Decimal("12.50"),
    )
    _same(purchase)
    purchase.save()
    _same(
        PurchaseItem(
            purchase=purchase,
            sku="ROSE",
            name="Rose",
            quantity=2,
            unit_price=Decimal("6.25"),
            line_total=Decimal("12.50"),
        )
    )
    account = PointsAccount.objects.create(member=member, tier=selectors.entry_tier())
    entry = LedgerEntry(
        account=account, member=member, kind="earn", points=12, balance_after=12, purchase=purchase,
        reason_code="purchase", reason_params={"ref": "PREP-1"},
    )  # fmt: skip
    _same(entry)
    _same(PointsLot(account=account, entry=entry, points=12, remaining=12, expires_on=datetime.date(2027, 12, 31)))
    _same(PurchasePosting(purchase=purchase, fingerprint="f" * 64, points_earned=12, points_balance=12))


def test_a_naive_ordered_at_is_made_aware_as_save_makes_it():
    """The one datetime a caller sets: not passed through as it is (a naive value would be read
    in the database session's time zone, not the project's)."""
    naive = datetime.datetime(2026, 12, 6, 9, 30)
    purchase = Purchase(external_ref="PREP-2", channel="store", ordered_at=naive, total=Decimal("1.00"))
    field = Purchase._meta.get_field("ordered_at")
    (prepare,) = insert_preparers([field])
    with pytest.warns(RuntimeWarning):
        value = prepare(purchase)
    assert value.tzinfo is not None
    assert value == naive.replace(tzinfo=zoneinfo.ZoneInfo(timezone.get_default_timezone_name()))
