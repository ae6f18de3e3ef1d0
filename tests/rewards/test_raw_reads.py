"""The plain-SQL reads on the posting path name their columns (`loyalty_crm.bulk.select_columns`),
never `SELECT *`, and still load whole instances (no field deferred)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty_crm.bulk import select_columns
from members.models import Member, Store
from rewards import lock_objects, selectors, services
from rewards.api.serializers import MemberNoField, StoreCodeField
from rewards.models import MembershipPlan, MembershipSubscription, PointsAccount, Tier
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
SELECT_STAR = re.compile(r"SELECT\s+\*\s+FROM", re.IGNORECASE)


@pytest.mark.parametrize("model", [Tier, MembershipPlan, MembershipSubscription, PointsAccount, Member, Store])
def test_select_columns_names_every_concrete_field_once(model):
    quote = connection.ops.quote_name
    assert select_columns(model) == ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    assert len(select_columns(model).split(", ")) == len({f.column for f in model._meta.concrete_fields})


def test_the_raw_reads_name_their_columns_and_load_whole_instances():
    member = factories.member()
    store = factories.store()
    post(member, "100.00")
    services.buy_membership(member=member, plan=MembershipPlan.objects.get(code="annual-plus"), external_ref="SALE-RAW")
    with CaptureQueriesContext(connection) as queries:
        loaded = [
            *selectors.tiers(),
            (subscription := selectors.active_membership(member)),
            subscription.plan,
            lock_objects.account_row_for_update(member.pk),
            MemberNoField().to_internal_value(member.member_no),
            StoreCodeField().to_internal_value(store.code),
        ]
    assert queries.captured_queries, "the reads ran no query"
    assert not [q["sql"] for q in queries.captured_queries if SELECT_STAR.search(q["sql"])]
    assert all(obj is not None and not obj.get_deferred_fields() for obj in loaded)
    assert loaded[-2] == member and loaded[-1] == store
