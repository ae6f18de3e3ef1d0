"""POST /purchases/batch/'s fast paths give exactly what the DRF serializers give: the item reader
(`PurchaseBatchItems`) against `PurchaseBatchItemSerializer`, the answers (`posting_bodies`)
against `PostingOutputSerializer(many=True)`, and a whole varied batch through the API both ways."""

import datetime
import json
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loyalty_crm.api import parsers
from members.models import SalesChannel
from members.services import erase_member
from rewards.api import views
from rewards.api.serializers import (
    PostingOutputSerializer,
    PurchaseBatchItems,
    PurchaseBatchItemSerializer,
    posting_bodies,
)
from rewards.models import Tier
from rewards.services.purchases import PostingResult
from tests.members import factories

BATCH = "/api/v1/purchases/batch/"
PURCHASES = "/api/v1/purchases/"
READER = PurchaseBatchItems()


def canonical(value):
    """A value with its exact type, decimals with their exponent and times with their zone, so that
    `Decimal("5")` and `Decimal("5.00")` (equal in Python) compare different."""
    if isinstance(value, dict):
        return ("dict", sorted((key, canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", [canonical(item) for item in value])
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, datetime.datetime):
        return ("datetime", value.isoformat(), str(value.tzinfo))
    return (type(value).__name__, value)


def by_serializer(item):
    try:
        return "valid", canonical(PurchaseBatchItemSerializer().run_validation(item))
    except Exception as exc:
        return type(exc).__name__, json.dumps(getattr(exc, "detail", str(exc)), sort_keys=True, default=str)


def by_reader(item):
    try:
        return "valid", canonical(READER.validate(item))
    except Exception as exc:
        return type(exc).__name__, json.dumps(getattr(exc, "detail", str(exc)), sort_keys=True, default=str)


texts = st.one_of(
    st.sampled_from(["M0000001", " M0000001 ", "", "   ", "ROSE-11", "玫瑰", "x" * 16, "x" * 17, "y" * 65, "a\x00b"]),
    st.text(max_size=70),
    st.integers(-5, 10**12),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
moneys = st.one_of(
    st.sampled_from(
        ["199.00", "0", "0.5", "1.005", "-1.00", " 5.00", "5.", ".5", "1e3", "NaN", "9999999.99", "10000000.00"]
    ),
    st.sampled_from(["1234567890.12", "12345678901", "00000000001.00", "٣.٠٠", "7\n", "+7"]),
    st.from_regex(r"\A[0-9]{1,11}(\.[0-9]{0,3})?\Z"),
    st.integers(-10, 10**11),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1, max_value=1e8),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=0, max_value=10**8),
    st.none(),
)
times = st.one_of(
    st.sampled_from(
        [
            "2026-01-10T10:00:00+08:00",
            "2026-01-10T10:00:00Z",
            "2026-01-10T10:00:00",
            "2026-01-10",
            "1899-12-31T23:00:00+08:00",
            "2026-01-10T10:00:00+08:00:30",
            "2026-02-30T10:00:00Z",
            "yesterday",
            "",
        ]
    ),
    st.datetimes(min_value=datetime.datetime(1890, 1, 1), max_value=datetime.datetime(2100, 1, 1)).map(
        datetime.datetime.isoformat
    ),
    st.datetimes(
        min_value=datetime.datetime(1890, 1, 1),
        max_value=datetime.datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [
                datetime.UTC,
                datetime.timezone(datetime.timedelta(hours=8)),
                datetime.timezone(datetime.timedelta(hours=-15, minutes=-59)),
                datetime.timezone(datetime.timedelta(hours=16)),
                datetime.timezone(datetime.timedelta(hours=5, minutes=43, seconds=20)),
            ]
        ),
    ).map(datetime.datetime.isoformat),
    st.integers(),
    st.none(),
)
quantities = st.one_of(st.integers(-2, 100_002), st.sampled_from(["2", 2.0, True, None, 10**30]))
lines = st.fixed_dictionaries(
    {"sku": texts, "quantity": quantities, "unit_price": moneys},
    optional={"name": texts, "category": texts, "discount": moneys, "note": texts},
)
well_formed_line = st.fixed_dictionaries(
    {
        "sku": st.sampled_from(["ROSE-11", "LILY-6", " CARD-1 "]),
        "quantity": st.integers(1, 3),
        "unit_price": st.sampled_from(["199.00", "10", "0.5", "520.00"]),
    },
    optional={"name": st.sampled_from(["11枝红玫瑰", "", "  "]), "category": st.sampled_from(["roses", ""])},
)
items = st.fixed_dictionaries(
    {
        "member": texts,
        "external_ref": texts,
        "ordered_at": times,
        "items": st.one_of(st.lists(st.one_of(well_formed_line, lines), max_size=3), texts),
    },
    optional={
        "store": st.one_of(texts, st.sampled_from(["sh-001", "", None])),
        "channel": st.one_of(st.sampled_from([*SalesChannel.values, "STORE", ""]), texts),
        "payment_method": st.one_of(st.sampled_from(["", "cash", "wechat", "card", "bitcoin"]), texts),
        "total": moneys,
        "coupon_code": st.sampled_from(["", "SPRING", None]),
        "points_to_use": st.sampled_from([0, 5]),
        "unknown": texts,
    },
)
well_formed = st.fixed_dictionaries(
    {
        "member": st.sampled_from(["M0000001", " M0000002"]),
        "external_ref": st.from_regex(r"\A[A-Z0-9-]{1,64}\Z"),
        "ordered_at": st.sampled_from(["2026-01-10T10:00:00+08:00", "2026-06-01T02:30:00.123456Z"]),
        "items": st.lists(well_formed_line, min_size=1, max_size=3),
    },
    optional={
        "store": st.sampled_from(["sh-001", "", None]),
        "channel": st.sampled_from(SalesChannel.values),
        "payment_method": st.sampled_from(["", "cash"]),
        "total": st.sampled_from(["10.00", None, 5]),
    },
)


lengths = st.sampled_from([n * c for n in (16, 17, 32, 33, 64, 65, 100, 101, 200, 201) for c in ("x", "字")])
odd = {
    "text": st.one_of(texts, lengths),
    "ordered_at": times,
    "money": moneys,
    "quantity": quantities,
    "choice": st.one_of(st.sampled_from([*SalesChannel.values, "cash", "STORE", "", " cash"]), texts),
    "items": st.one_of(texts, st.just([]), st.lists(st.one_of(well_formed_line, lines), min_size=1, max_size=2)),
}
KINDS = {
    "member": "text",
    "external_ref": "text",
    "ordered_at": "ordered_at",
    "store": "text",
    "channel": "choice",
    "payment_method": "choice",
    "total": "money",
    "items": "items",
    "coupon_code": "text",
}
LINE_KINDS = {
    "sku": "text",
    "name": "text",
    "category": "text",
    "quantity": "quantity",
    "unit_price": "money",
    "discount": "money",
}


@st.composite
def nearly_well_formed(draw):
    """A well-formed item with one value (its own or one of a line's) replaced by an odd one."""
    item = dict(draw(well_formed))
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(KINDS)))
        item[key] = draw(odd[KINDS[key]])
    else:
        line = dict(draw(well_formed_line))
        key = draw(st.sampled_from(sorted(LINE_KINDS)))
        line[key] = draw(odd[LINE_KINDS[key]])
        item["items"] = [*item["items"], line]
    return item


def lines_of(*prices):
    return {
        "member": "M0000001",
        "external_ref": "R-1",
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": price} for price in prices],
    }


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nearly_well_formed())
@example(lines_of("9999999.99", "0.01"))  # the lines' limit, just over
@example(lines_of("9999999.98", "0.01"))  # just at it
@example(lines_of("9999999.99", 0))
def test_the_item_reader_gives_what_the_serializer_gives_for_one_odd_value(item):
    assert by_reader(item) == by_serializer(item)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(items, well_formed, texts))
def test_the_item_reader_gives_what_the_serializer_gives(item):
    assert by_reader(item) == by_serializer(item)


@settings(max_examples=300, deadline=None)
@given(well_formed)
def test_the_item_reader_reads_a_well_formed_item_itself(item):
    fields, zone = READER.serializer.fields, timezone.get_current_timezone()
    assert READER._fast(item, fields, zone) is not None  # the fast path is taken, not the serializer
    assert canonical(READER._fast(item, fields, zone)) == canonical(PurchaseBatchItemSerializer().run_validation(item))


money_values = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=0, max_value=10**6),
    st.sampled_from([Decimal("0"), Decimal("1E+3"), Decimal("0.005"), Decimal("-0.00"), Decimal("2.675")]),
    st.integers(0, 10**6),
)
tiers = st.one_of(
    st.none(),
    st.builds(
        Tier,
        code=st.sampled_from(["basic", "silver", "gold"]),
        name=st.sampled_from(["", "Gold", "银卡会员"]),
    ),
)


@st.composite
def results(draw):
    member = draw(st.one_of(st.none(), st.builds(SimpleNamespace, member_no=st.sampled_from(["M0000001", None]))))
    purchase = SimpleNamespace(
        pk=draw(st.one_of(st.integers(1, 10**12), st.none())),
        member=member,
        external_ref=draw(st.text(max_size=10)),
        total=draw(st.one_of(money_values, st.none())),
    )
    return PostingResult(
        purchase=purchase,
        points_earned=draw(st.integers(0, 10**6)),
        points_balance=draw(st.integers(-100, 10**7)),
        tier=draw(tiers),
        tier_changed=draw(st.one_of(st.booleans(), st.sampled_from([0, 1, "yes"]))),
        created=True,
        points_used=draw(st.integers(0, 100)),
        points_value=draw(money_values),
        tier_discount=draw(money_values),
        coupon_discount=draw(money_values),
        stored_value_used=draw(money_values),
        stored_value_bonus=draw(money_values),
        stored_value_balance=draw(st.one_of(st.none(), money_values)),
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(results(), max_size=6))
def test_the_answers_are_what_the_output_serializer_renders(answers):
    expected = PostingOutputSerializer(answers, many=True).data
    # json.dumps keeps the keys' order: the body the client reads, byte for byte.
    assert json.dumps(posting_bodies(answers), ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


class SerializerReader:
    """The item check before the fast path: the serializer for every item."""

    def validate(self, item, zone=None):
        return PurchaseBatchItemSerializer().run_validation(item)


def item(member, ref, price="99.50", *, day=10, quantity=2, **extra):
    data = {
        "member": member if isinstance(member, str) else member.member_no,
        "external_ref": ref,
        "ordered_at": f"2026-01-{day:02d}T10:00:00+08:00",
        "items": [
            {"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": quantity, "unit_price": price}
        ],
    }
    return data | extra


@pytest.mark.django_db
def test_a_varied_batch_is_answered_as_the_serializers_answer_it(api_staff, monkeypatch):
    factories.store()
    member, other, erased = factories.member(), factories.member(name="李四"), factories.member(name="王五")
    erase_member(member=erased)
    api_staff.post(PURCHASES, item(member, "TAKEN", day=2), format="json")
    api_staff.post(PURCHASES, item(other, "AGAIN", day=3), format="json")
    batch = [
        item(member, "NEW-1", day=11),
        item(other, "AGAIN", day=3),  # replayed: 200 with the first answer
        item(member, "TAKEN", price="10.00", day=2),  # conflicting: 409
        item("M999999", "UNKNOWN"),  # unknown member
        item(member, "NO-STORE", store="nowhere"),  # unknown store
        item(member, "STORE", store=" sh-001 ", channel="online", payment_method="cash", day=12),
        item(member, "NEG", price="-1.00"),
        item(member, "MANY", quantity=0),
        item(member, "", day=13),  # blank reference
        item(member, "X" * 65),  # too long
        item(member, "ZONE", ordered_at="2026-01-10T10:00:00+08:00:30"),
        item(member, "NAIVE", ordered_at="2026-01-14T10:00:00"),
        item(member, "FLOAT", price=199.5),  # a JSON number: the serializer reads it
        item(member, "INT", price=200, day=15),
        item(member, "BIG", price="9999999.99"),  # the lines above the limit
        item(member, "TOTAL", total="999.00"),  # refused by members: total above the lines
        item(member, "COUPON", coupon_code="SPRING"),
        item(member, "EXTRA", note="ignored", day=16),
        item(erased, "ERASED"),
        "not a purchase",
        None,
        {"member": member.member_no},
        item(member, "DUP", day=17),
        item(member, "DUP", day=17),  # the same again: 200
        item(member, "DUP", price="1.00", day=17),  # other content: 409
        item(member, "GOLD-1", price="9000.00", quantity=1, day=18),  # a tier upgrade
        item(other, "GOLD-2", price="3000.00", quantity=1, day=19),
        item(other, "GOLD-3", price="3000.00", quantity=1, day=20),
        item(member, "NUL-LOOKING", name="a\\u0000b", day=21),  # an escaped backslash: harmless text
    ]

    def answer():
        response = api_staff.post(BATCH, batch, format="json")
        assert response.status_code == 200
        body = response.json()
        for result in body["results"]:  # new purchases' ids come from a sequence a rollback keeps
            if "purchase" in result and result["external_ref"] != "AGAIN":
                result["purchase"]["id"] = None
        return body

    with transaction.atomic():
        with monkeypatch.context() as patched:
            patched.setattr(views, "BATCH_ITEM_INPUT", SerializerReader())
            patched.setattr(views, "posting_bodies", lambda results: PostingOutputSerializer(results, many=True).data)
            patched.setattr(parsers, "UNSTORABLE_ESCAPE", re.compile(b""))  # the text walk on every body
            before = answer()
        transaction.set_rollback(True)
    after = answer()
    assert after == before
    statuses = [result["status"] for result in after["results"]]
    assert statuses.count(201) >= 8 and 200 in statuses and 409 in statuses and statuses.count(400) >= 10
    assert any(r["status"] == 201 and r["purchase"]["tier_changed"] for r in after["results"])


@pytest.mark.django_db
def test_text_that_cannot_be_stored_is_still_refused_in_a_batch(api_staff):
    member = factories.member()
    response = api_staff.post(
        BATCH,
        json.dumps([item(member, "OK"), item(member, "BAD\u0000")]),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"[1].external_ref": [str(parsers.inputs.NUL_MESSAGE)]}
