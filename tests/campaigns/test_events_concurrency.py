"""Real threads on PostgreSQL: 30 simultaneous sign-ups for 10 seats give exactly 10 confirmed and
20 waitlisted, in arrival order, and a member signs up once however often they press."""

import pytest

from campaigns.models import EventRegistration
from tests.campaigns.event_helpers import event, member, sign_up
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_thirty_sign_ups_for_ten_seats_give_ten_confirmed_and_twenty_waitlisted_in_order():
    made = event(capacity=10)
    people = [member() for _ in range(30)]
    results = run_at_once([lambda m=m: sign_up(made, m) for m in people])
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = list(EventRegistration.objects.filter(event=made).order_by("pk"))
    assert len(rows) == 30
    assert [r.status for r in rows] == ["confirmed"] * 10 + ["waitlisted"] * 20  # arrival order = id order
    positions = sorted(r.position for r in results if r.status == "waitlisted")
    assert positions == list(range(1, 21))


def test_one_member_pressing_many_times_signs_up_once():
    made, someone = event(capacity=5), member()
    results = run_at_once([lambda i=i: sign_up(made, someone, idempotency_key=f"k{i % 2}") for i in range(8)])
    assert EventRegistration.objects.filter(event=made, member=someone).count() == 1
    codes = {getattr(r, "code", "ok") for r in results}
    assert codes <= {"ok", "already_registered"}
