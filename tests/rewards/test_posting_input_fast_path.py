"""POST /purchases/'s body: a till's plain posting is read by the batch's reader of well-formed items
(`PurchaseInput._plain`, issue 20); every body must give exactly what `PurchaseInputSerializer`
gives — the same values, or the same 400 — and the reader must really be the one reading plain ones."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewards.api.serializers import PurchaseInput
from tests.rewards.test_batch_fast_paths import canonical, items, nearly_well_formed, texts, well_formed

pytestmark = pytest.mark.django_db


class SerializerOnly(PurchaseInput):
    """What POST /purchases/ read before: the serializer for every body."""

    def _plain(self, data):
        return None


FAST, SLOW = PurchaseInput(), SerializerOnly()


def read(reader, data):
    try:
        return "valid", canonical(reader.validate(data))
    except Exception as exc:
        return type(exc).__name__, json.dumps(getattr(exc, "detail", str(exc)), sort_keys=True, default=str)


plain_bodies = well_formed.map(lambda body: {key: value for key, value in body.items() if key != "store"})
stores = st.one_of(texts, st.sampled_from(["sh-001", " sh-001", "sh-001 ", "", None, "x" * 33]))


@st.composite
def with_store(draw, bodies):
    body = dict(draw(bodies))
    if draw(st.booleans()):
        body["store"] = draw(stores)
    else:
        body.pop("store", None)
    return body


CHECKS = settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))


@CHECKS
@given(st.one_of(with_store(items), with_store(nearly_well_formed()), with_store(well_formed), texts))
def test_every_body_is_read_as_the_serializer_reads_it(body):
    assert read(FAST, body) == read(SLOW, body)


plain_stores = st.sampled_from([None, "sh-001", "x" * 32])


@st.composite
def plain(draw):
    """A body the fast reader takes: a member number without spaces, a store absent, null or a code
    without spaces."""
    body = dict(draw(plain_bodies))
    body["member"] = body["member"].strip()
    if draw(st.booleans()):
        body["store"] = draw(plain_stores)
    return body


@CHECKS
@given(plain())
def test_a_plain_body_is_read_by_the_fast_reader(body):
    assert FAST._plain(body) is not None
    assert canonical(FAST._plain(body)) == canonical(SLOW.serializer.run_validation(body))


def test_a_body_priced_at_the_till_goes_to_the_serializer():
    body = {
        "member": "M0000001",
        "external_ref": "R-1",
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "10.00"}],
    }
    assert FAST._plain(body) is not None
    for extra in ({"coupon_code": "SPRING"}, {"points_to_use": 5}, {"tenders": []}, {"member": None}):
        assert FAST._plain({**body, **extra}) is None
        assert read(FAST, {**body, **extra}) == read(SLOW, {**body, **extra})
