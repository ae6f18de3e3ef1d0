"""The replica router (loyalty_crm.db_routing), with a second database alias.

The `replica` fixture adds the alias as settings do for DATABASE_REPLICA_URL: a second connection
to the test database (its own session, so it sees only committed rows, like a real replica), and
the tests count the queries each alias serves."""

import pytest
from django.db import connections, router
from django.test.utils import CaptureQueriesContext

from loyalty_crm.db_routing import REPLICA, replica_reads
from members.models import Member, Store
from tests.members import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def replica():
    default = connections["default"].settings_dict
    connections.settings[REPLICA] = {**default, "TEST": {**default.get("TEST", {}), "MIRROR": "default"}}
    wrapper = connections[REPLICA]
    # Opened here: the test case only lets its declared aliases open connections lazily, and the
    # alias exists only for these tests (adding it for the whole run would route every report read).
    wrapper.connect()
    try:
        yield wrapper
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]


def test_reads_inside_replica_reads_go_to_the_replica_and_writes_never(replica):
    with replica_reads():
        assert Member.objects.all().db == REPLICA
        assert router.db_for_write(Member) == "default"
    assert Member.objects.all().db == "default"


def test_without_the_alias_replica_reads_changes_nothing():
    with replica_reads():
        assert Member.objects.all().db == "default"


def test_a_write_inside_replica_reads_lands_on_the_primary(replica):
    with replica_reads():
        Store.objects.create(code="sz-001", name="深圳店")
    # Written in this test's (uncommitted) transaction on `default`: the replica's session cannot see it.
    assert Store.objects.filter(code="sz-001").exists()
    assert not Store.objects.using(REPLICA).filter(code="sz-001").exists()


@pytest.mark.parametrize(
    ("user", "url"),
    [
        ("marketing", "/admin/campaigns/campaign/monthly-report/"),
        ("manager", "/admin/feedback/servicekpi/"),
        ("manager", "/admin/"),
    ],
)
def test_the_review_kpi_pages_and_dashboard_read_from_the_replica(request, client, replica, user, url):
    factories.member()
    client.force_login(request.getfixturevalue(user))
    with (
        CaptureQueriesContext(replica) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = client.get(url)
    assert response.status_code == 200
    assert len(on_replica) > 0
    # The primary serves the session, the user and what the templates read lazily — not the figures.
    report_tables = ("members_purchase", "campaigns_outboxmessage", "feedback_ticket")
    assert not [q["sql"] for q in on_primary.captured_queries if any(t in q["sql"] for t in report_tables)]


def test_a_posting_never_reads_from_the_replica(replica):
    from tests.rewards.helpers import post

    member = factories.member()
    with CaptureQueriesContext(replica) as on_replica:
        post(member, "100.00")
    assert len(on_replica) == 0
