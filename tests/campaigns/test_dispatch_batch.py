"""The batch dispatcher: what one claimed batch reads once, its send threads and the rate
limiter's blocks (campaigns.services.dispatch.dispatch_batch, campaigns.ratelimit.take_send_slots)."""

import datetime
import threading
import uuid
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import selectors, services
from campaigns.channels.base import ChannelInDoubt
from campaigns.models import OutboxMessage, SmsLog
from campaigns.ratelimit import take_send_slots
from campaigns.services import dispatch
from members.models import Member
from members.services import set_consents
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def fresh_channel() -> str:  # a rate key of its own (the cache outlives a test)
    return f"sms-block-{uuid.uuid4().hex}"


def test_one_batch_mixes_consent_opt_out_frequency_cap_and_no_address():
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    capped = member(sms_consent=True)
    launched(campaign(name="先前"))
    drain()  # `capped` had their one message of the month
    sent = [member(sms_consent=True, name=f"顾客{i}") for i in range(3)]
    opted_out = member(sms_consent=True)
    no_phone = member(sms_consent=True)
    made = launched(campaign(name="春季"))
    set_consents(member=opted_out, consents={"marketing_sms": False})  # after the audience was resolved
    Member.objects.filter(pk=no_phone.pk).update(phone=None)
    before = SmsLog.objects.count()

    result = dispatch.dispatch_batch(owner="w", batch_size=100)

    assert (result.claimed, result.sent, result.skipped, result.failed) == (6, 3, 2, 1)
    rows = {row.member_id: row for row in made.outbox_messages.all()}
    assert {m.pk for m in sent} == {pk for pk, row in rows.items() if row.status == "sent"}
    assert (rows[capped.pk].status, rows[capped.pk].skip_reason) == ("skipped", "frequency_cap")
    assert (rows[opted_out.pk].status, rows[opted_out.pk].skip_reason) == ("skipped", "opted_out")
    assert (rows[no_phone.pk].status, rows[no_phone.pk].error_code) == ("failed", "no_address")
    assert SmsLog.objects.count() - before == 3
    assert all(row.lease_owner == "" for row in rows.values())


def test_quiet_hours_defer_the_whole_batch_to_the_morning():
    services.update_contact_policy(quiet_hours_start=datetime.time(21), quiet_hours_end=datetime.time(9))
    for _i in range(3):
        member(sms_consent=True)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 22, 30, tzinfo=SH), tick=False):
        made = launched(campaign())
        result = dispatch.dispatch_batch(owner="w", batch_size=100)
    assert (result.claimed, result.deferred, result.sent) == (3, 3, 0)
    morning = datetime.datetime(2026, 3, 3, 9, 0, tzinfo=SH)
    assert set(made.outbox_messages.values_list("status", "not_before")) == {("pending", morning)}
    assert SmsLog.objects.count() == 0


def test_a_batch_reads_policy_offers_and_snapshots_once():
    no_quiet_hours()
    for i in range(5):
        member(sms_consent=True, name=f"顾客{i}")
    launched(campaign())
    with CaptureQueriesContext(connection) as few:
        assert dispatch.dispatch_batch(owner="w", batch_size=100).sent == 5
    statements = [query["sql"] for query in few.captured_queries]
    assert sum("campaigns_contactpolicy" in sql for sql in statements) == 1
    assert sum('FROM "campaigns_campaignoffer"' in sql for sql in statements) == 1
    assert sum("rewards_pointsaccount" in sql for sql in statements) == 1  # the loyalty snapshots
    assert sum('FROM "campaigns_automationoccurrence"' in sql for sql in statements) == 1


def test_one_send_in_doubt_among_concurrent_sends_is_never_resent(monkeypatch, settings):
    """Sent through the thread pool: one answer lost, the others accepted, each sent once."""
    settings.CAMPAIGN_SEND_THREADS = 4
    no_quiet_hours(sms_rate=1000)
    members = [member(sms_consent=True, name=f"顾客{i}") for i in range(6)]
    doubtful = members[2]
    made = launched(campaign())
    calls: list[int] = []
    lock = threading.Lock()
    threads_used: set[str] = set()

    def fake_send(decision, reference, message_id):
        with lock:
            calls.append(message_id)
            threads_used.add(threading.current_thread().name)
        if decision.member_no == doubtful.member_no:
            raise ChannelInDoubt("timeout")
        return f"ref-{message_id}"

    monkeypatch.setattr(dispatch, "_send", fake_send)
    monkeypatch.setattr(dispatch, "_sends_inline", lambda channel: False)  # the pool, as in production

    result = dispatch.dispatch_batch(owner="w", batch_size=100)
    drain()  # nothing is left to send: the message in doubt is not sent again

    assert (result.sent, result.in_doubt) == (5, 1)
    assert sorted(calls) == sorted(made.outbox_messages.values_list("pk", flat=True))  # each once
    assert all(name.startswith("campaign-send") for name in threads_used)
    rows = {row.member_id: row for row in made.outbox_messages.all()}
    assert (rows[doubtful.pk].status, rows[doubtful.pk].error_code) == ("in_doubt", "timeout")
    for someone in members:
        if someone != doubtful:
            row = rows[someone.pk]
            assert (row.status, row.provider_ref) == ("sent", f"ref-{row.pk}")
    assert selectors.campaign_results(made).sent == 5


def clock_and_sleep(start: float):
    clock = [start]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    return clock, slept, sleep


def test_slots_are_taken_in_blocks_with_one_incr_each(monkeypatch):
    from campaigns import ratelimit

    channel = fresh_channel()
    clock, slept, sleep = clock_and_sleep(5000.0)
    increments = []
    real_incr = ratelimit.cache.incr
    monkeypatch.setattr(ratelimit.cache, "incr", lambda key, delta=1: increments.append(delta) or real_incr(key, delta))

    def take(wanted):
        return take_send_slots(channel, 10, wanted, clock=lambda: clock[0], sleep=sleep)

    assert [take(4), take(4), take(4)] == [4, 4, 2]  # the third gets what is left of the second
    assert increments == [4, 4, 4] and slept == []
    assert take(4) == 4  # nothing left in second 5000: waits for 5001
    assert slept == [1.0]


def test_workers_taking_blocks_together_never_exceed_the_rate():
    channel = fresh_channel()
    clock, _slept, sleep = clock_and_sleep(7000.0)
    granted_in: dict[int, int] = {}
    gots = []
    for wanted in [3, 8, 5, 2, 7, 8, 1, 6, 4, 8, 3, 5]:  # two or more workers' blocks, interleaved
        got = take_send_slots(channel, 7, wanted, clock=lambda: clock[0], sleep=sleep)
        gots.append(got)
        granted_in[int(clock[0])] = granted_in.get(int(clock[0]), 0) + got
    # By hand, 7 a second: a block gets what is left of its second (3, then the 4 left of 7), and
    # one that finds the second used up waits for the next and gets up to 7 there.
    assert gots == [3, 4, 5, 2, 7, 7, 1, 6, 4, 3, 3, 4]
    assert granted_in == dict.fromkeys(range(7000, 7007), 7)


def test_concurrent_threads_taking_blocks_never_exceed_the_rate():
    """Eight threads on one fixed second: together they are granted exactly the rate, no more."""
    channel = fresh_channel()
    granted = []
    lock = threading.Lock()

    class NextSecond(Exception):
        pass

    def sleep(_seconds):
        raise NextSecond  # the second is used up: stop this thread instead of waiting

    def worker():
        while True:
            try:
                got = take_send_slots(channel, 50, 3, clock=lambda: 9000.5, sleep=sleep)
            except NextSecond:
                return
            with lock:
                granted.append(got)

    threads = [threading.Thread(target=worker) for _i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 50


def test_send_prepared_still_sends_one_message(monkeypatch):
    no_quiet_hours()
    member(sms_consent=True)
    made = launched(campaign())
    message = made.outbox_messages.get()
    dispatch.claim_batch(owner="w", batch_size=10)
    decision = dispatch.prepare_message(message_id=message.pk, owner="w")
    assert decision.outcome == "send"
    assert dispatch.send_prepared(message_id=message.pk, owner="w", decision=decision) == "sent"
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and SmsLog.objects.count() == 1
