"""Issue 6's key test: a real Celery worker is SIGKILLed mid-campaign; nothing is lost or repeated.

The test starts `celery -A loyalty_crm worker` as a subprocess against the test database and the
Redis broker, sending 300 text messages through a provider that takes 0.02 s per message and
records each delivery in the SMS log. After 60 deliveries it holds both pool processes just
after a delivery and before they can mark it sent — the worst moment — and kills the worker's
whole process group with SIGKILL, waits for the (short) lease, starts a second worker and runs the recovery task
as beat would. Then every member got the message exactly once; the two in flight at the kill
are counted `in_doubt` and were not sent again; the campaign completed. Run twice: one message per
provider call, and batch sends (SMS_BATCH_SIZE=5, a provider taking a block in one call): then
each pool process is killed holding a delivered call of five, and exactly those ten are in doubt.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import Campaign, OutboxMessage, SmsLog
from loyalty_crm.celery import app
from members.models import Consent, ConsentEvent, Member
from members.services import apply_contact_data, new_member_numbers
from tests.campaigns.helpers import campaign, no_quiet_hours
from tests.conftest import missing_service

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MEMBERS = 300
LEASE_SECONDS = 3
CONCURRENCY = 2


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# (SMS provider, SMS_BATCH_SIZE, messages a pool process has in flight): one message per call, and
# blocks of 5 in one call (batch sends: the whole call's messages are in doubt at the kill).
MODES = {
    "single": ("tests.campaigns.providers.SlowSmsProvider", 1, 1),
    "batch": ("tests.campaigns.providers.SlowBatchSmsProvider", 5, 5),
}


def start_worker(name: str, log_path, hold_file, mode: str = "single") -> subprocess.Popen:
    provider, batch_size, _in_flight = MODES[mode]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # the test database, where this test's rows are committed
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SMS_PROVIDER": provider,
        "SMS_BATCH_SIZE": str(batch_size),
        "SMS_TEST_DELAY": "0.02",
        "SMS_TEST_HOLD_FILE": str(hold_file),
        "CAMPAIGN_LEASE_SECONDS": str(LEASE_SECONDS),
        "CAMPAIGN_BATCH_SIZE": "10",
        "CAMPAIGN_DISPATCH_PARALLELISM": str(CONCURRENCY),
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "loyalty_crm", "worker", "-l", "INFO", "-c", str(CONCURRENCY),
        "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for(condition, timeout: float, what: str, logs=(), poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    tails = "\n".join(f"--- {path}\n" + path.read_text(errors="replace")[-3000:] for path in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def members_with_sms_consent(count: int) -> list[Member]:
    """Members as `create_member` would make them (numbers, sealed phones, consent with its
    history), inserted in bulk to keep the test short."""
    now = timezone.now()
    made = []
    for index, (member_no, code) in enumerate(new_member_numbers(count)):
        someone = Member(member_no=member_no, referral_code=code, name=f"顾客{index:03d}", registered_at=now)
        apply_contact_data(someone, phone=f"1390000{index:04d}", email=None, birthday=None)
        made.append(someone)
    Member.objects.bulk_create(made)
    Consent.objects.bulk_create(Consent(member=m, topic="marketing_sms", granted=True) for m in made)
    ConsentEvent.objects.bulk_create(
        ConsentEvent(member=m, topic="marketing_sms", granted=True, source="import") for m in made
    )
    return made


@pytest.mark.parametrize("mode", ["single", "batch"])
def test_killed_worker_loses_nothing_and_repeats_nothing(tmp_path, settings, mode):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        missing_service("this test needs a Redis broker (set CELERY_BROKER_URL=redis://...)")
    settings.CAMPAIGN_LEASE_SECONDS = LEASE_SECONDS
    settings.CAMPAIGN_DISPATCH_PARALLELISM = CONCURRENCY
    with app.connection_for_write() as conn:  # leftovers of earlier runs on this broker
        conn.default_channel.queue_purge("celery")
    no_quiet_hours(sms_rate=1000, frequency_cap_messages=100)
    members = members_with_sms_consent(MEMBERS)
    made = campaign(body="{{ member.name }}您好，春季新品到店，凭会员号{{ member.member_no }}享九折。")
    hold = tmp_path / "hold"

    first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"
    in_flight_each = MODES[mode][2]
    first = start_worker("first", first_log, hold, mode)
    second = None
    try:
        services.launch_campaign(campaign=made)  # its on-commit hook enqueues the start on the broker
        wait_for(lambda: SmsLog.objects.count() >= 60, 60, "the first worker to send", [first_log])
        hold.touch()  # the next sends are delivered, then the worker is stuck before marking them sent

        def both_in_flight():
            # Both pool processes hold a message (a batch: a call's messages) delivered but not yet marked sent.
            sending = OutboxMessage.objects.filter(campaign=made, status="sending").values_list("pk", flat=True)
            references = [f"outbox-{pk}" for pk in sending]
            held = CONCURRENCY * in_flight_each
            return len(references) == held == SmsLog.objects.filter(reference__in=references).count()

        wait_for(both_in_flight, 30, "both pool processes to be mid-send", [first_log])
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool processes, mid-send
        first.wait(timeout=10)
        hold.unlink()
        at_kill = collections.Counter(OutboxMessage.objects.filter(campaign=made).values_list("status", flat=True))
        in_flight = set(OutboxMessage.objects.filter(campaign=made, status="sending").values_list("pk", flat=True))
        delivered_at_kill = SmsLog.objects.count()
        assert at_kill["pending"] > 0, f"the worker finished before it was killed: {at_kill}"

        time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's leases run out
        second = start_worker("second", second_log, hold, mode)

        def recovered():
            tasks.recover_expired_leases()  # what beat runs every minute: resumes the dead worker's work
            made.refresh_from_db()
            return made.status == Campaign.Status.COMPLETED

        wait_for(recovered, 60, "the campaign to complete", [first_log, second_log], poll=1)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)

    outbox = {m.member_id: m for m in OutboxMessage.objects.filter(campaign=made)}
    deliveries = collections.Counter(SmsLog.objects.values_list("reference", flat=True))
    statuses = collections.Counter(message.status for message in outbox.values())
    print(f"at the kill: {dict(at_kill)}, delivered {delivered_at_kill}; at the end: {dict(statuses)}")
    assert len(outbox) == MEMBERS
    assert set(statuses) <= {"sent", "in_doubt"}, statuses  # none lost: nothing pending, failed or stuck
    # Exactly the messages in flight at the kill are in doubt — delivered, but never sent again.
    assert {m.pk for m in outbox.values() if m.status == "in_doubt"} == in_flight
    assert len(in_flight) == CONCURRENCY * in_flight_each
    assert max(deliveries.values()) == 1  # nobody received it twice
    for someone in members:
        message = outbox[someone.pk]
        assert deliveries[f"outbox-{message.pk}"] == 1  # everyone received it exactly once
    assert sum(deliveries.values()) == MEMBERS > delivered_at_kill  # the second worker carried on
