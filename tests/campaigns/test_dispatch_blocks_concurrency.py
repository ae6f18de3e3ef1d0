"""Real threads on PostgreSQL: two workers preparing blocks for the same members at the same moment
keep the frequency cap exact (the contact locks of `prepare_block`), never deadlock, and send each
message at most once."""

import collections
import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from campaigns import lock_objects
from campaigns.models import OutboxMessage
from campaigns.services import dispatch
from tests.campaigns.helpers import campaign, launched, member, no_quiet_hours

# serialized_rollback: the next files (referral, worker kill) restore the serialized database.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def lease(ids, owner):
    OutboxMessage.objects.filter(pk__in=ids).update(
        lease_owner=owner, lease_expires_at=timezone.now() + datetime.timedelta(minutes=5)
    )


def test_two_workers_blocks_for_the_same_members_keep_the_frequency_cap(monkeypatch):
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30, sms_rate=1000)
    people = [member(sms_consent=True, name=f"顾客{i}") for i in range(12)]
    first, second = launched(campaign(name="一")), launched(campaign(name="二"))
    ids_a = list(first.outbox_messages.order_by("pk").values_list("pk", flat=True))
    # The second worker's block holds the same members in the opposite order of its rows' ids.
    ids_b = list(second.outbox_messages.order_by("-member_id").values_list("pk", flat=True))
    lease(ids_a, "a")
    lease(ids_b, "b")

    # Both workers reach the contact locks together: without them each would count no contact
    # and send to every member; with them one waits for the other's commit and counts its sends.
    barrier = threading.Barrier(2, timeout=20)
    real_lock = lock_objects.lock_member_contacts

    def lock_together(member_ids):
        member_ids = list(member_ids)
        barrier.wait()
        real_lock(member_ids)

    monkeypatch.setattr(lock_objects, "lock_member_contacts", lock_together)
    results: dict[str, object] = {}

    def worker(owner, ids):
        try:
            results[owner] = dispatch.prepare_block(message_ids=ids, owner=owner, context=dispatch.batch_context(ids))
        except Exception as exc:  # the test shows what went wrong
            results[owner] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=args) for args in (("a", ids_a), ("b", ids_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not any(isinstance(value, Exception) for value in results.values()), results

    rows = OutboxMessage.objects.filter(member__in=people)
    by_member = collections.defaultdict(list)
    for row in rows:
        by_member[row.member_id].append((row.status, row.skip_reason))
    for someone in people:  # exactly one message each: the other is skipped by the cap
        assert sorted(by_member[someone.pk]) == [("sending", ""), ("skipped", "frequency_cap")], by_member[someone.pk]
    outcomes = collections.Counter(d.outcome for value in results.values() for _pk, d, _s in value)
    assert outcomes == {"send": 12, "skipped": 12}


def test_two_workers_dispatching_mixed_blocks_keep_the_cap_and_the_daily_budget(monkeypatch, settings):
    """Whole batches through `dispatch_batch` on two threads (as two workers), every member in both
    campaigns: one opted out, one without a phone, a daily budget below the audience. Each member
    gets at most one message (the cap), exactly the budget is sent, the rest wait for tomorrow,
    and no message is handed to the provider twice."""
    from campaigns import rules
    from members.models import Member
    from members.services import set_consents

    settings.CAMPAIGN_SEND_THREADS = 4
    budget = 20
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30, sms_rate=100_000, sms_daily_budget=budget)
    people = [member(sms_consent=True, name=f"顾客{i:02d}") for i in range(30)]
    first, second = launched(campaign(name="一")), launched(campaign(name="二"))
    set_consents(member=people[3], consents={"marketing_sms": False})
    Member.objects.filter(pk=people[5].pk).update(phone=None)
    calls = collections.Counter()
    lock = threading.Lock()

    def fake_send(decision, reference, message_id):
        with lock:
            calls[message_id] += 1
        return f"biz-{message_id}"

    monkeypatch.setattr(dispatch, "_send", fake_send)
    monkeypatch.setattr(dispatch, "_sends_inline", lambda channel: False)
    errors = []

    def worker(owner):
        try:
            while dispatch.dispatch_batch(owner=owner, batch_size=10).claimed:
                pass
        except Exception as exc:  # the test shows what went wrong
            errors.append(exc)
        finally:
            connections.close_all()

    noon = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(noon, tick=True):  # the budget's day does not end during the test
        threads = [threading.Thread(target=worker, args=(owner,)) for owner in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and not errors, errors

    assert calls and max(calls.values()) == 1  # nothing handed over twice
    rows = list(OutboxMessage.objects.filter(campaign__in=[first, second]))
    assert len(rows) == 60 and not [row for row in rows if row.status == "sending"]
    sent = [row for row in rows if row.status == "sent"]
    assert len(sent) == budget == sum(calls.values())  # exactly the day's budget went out
    assert len({row.member_id for row in sent}) == budget  # the cap: one message a member
    statuses = collections.Counter((row.status, row.skip_reason or row.error_code) for row in rows)
    assert statuses[("skipped", "opted_out")] == 2 and statuses[("failed", "no_address")] == 2
    waiting = [row for row in rows if row.status == "pending"]
    assert statuses[("skipped", "frequency_cap")] + len(waiting) == 60 - budget - 4
    assert {(row.not_before, row.lease_owner) for row in waiting} == {(rules.next_local_midnight(noon), "")}
