"""The set-based prepare and record of a dispatch block (campaigns.services.dispatch.prepare_block,
record_block): one transaction a block, a fixed number of statements whatever its size, and every
rule of the one-message path kept (consent, opt-out, quiet hours, frequency cap, address, daily
budget, offers, retries, in doubt)."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import services
from campaigns.channels.base import ChannelError, ChannelInDoubt
from campaigns.models import OfferGrant, OutboxMessage
from campaigns.services import dispatch, offers
from members.models import Member
from members.services import set_consents
from rewards.models import Coupon, LedgerEntry
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories

pytestmark = pytest.mark.django_db
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def claimed(made, owner="w") -> list[int]:
    """Lease the campaign's pending rows to `owner` (what claim_batch does), by id."""
    ids = list(made.outbox_messages.filter(status="pending").order_by("pk").values_list("pk", flat=True))
    OutboxMessage.objects.filter(pk__in=ids).update(lease_owner=owner, lease_expires_at=dispatch.timezone.now()
                                                    + datetime.timedelta(minutes=5))  # fmt: skip
    return ids


def prepare(ids, owner="w", now=None):
    return dispatch.prepare_block(message_ids=ids, owner=owner, context=dispatch.batch_context(ids), now=now)


def test_one_block_decides_consent_opt_out_cap_address_and_lost_together():
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    capped = member(sms_consent=True)
    launched(campaign(name="先前"))
    drain()  # `capped` had their one message of the month
    going = [member(sms_consent=True, name=f"顾客{i}") for i in range(3)]
    opted_out = member(sms_consent=True)
    never = member(sms_consent=False)
    no_phone = member(sms_consent=True)
    taken = member(sms_consent=True)
    made = launched(campaign(name="春季"))
    # never consented: skipped when the outbox was filled; give them a row to decide at send time
    set_consents(member=opted_out, consents={"marketing_sms": False})
    Member.objects.filter(pk=no_phone.pk).update(phone=None)
    ids = claimed(made)
    taken_id = made.outbox_messages.get(member=taken).pk
    OutboxMessage.objects.filter(pk=taken_id).update(lease_owner="another-worker")

    prepared = prepare(ids)

    by_member = {OutboxMessage.objects.get(pk=pk).member_id: decision.outcome for pk, decision, _s in prepared}
    assert [pk for pk, _d, _s in prepared] == sorted(ids)
    assert {by_member[m.pk] for m in going} == {"send"}
    assert (by_member[capped.pk], by_member[opted_out.pk], by_member[no_phone.pk]) == ("skipped", "skipped", "failed")
    assert by_member[taken.pk] == "lost" and never.pk not in by_member
    rows = {row.member_id: row for row in made.outbox_messages.all()}
    assert {rows[m.pk].status for m in going} == {"sending"}
    assert all(rows[m.pk].sending_at is not None for m in going)
    assert (rows[capped.pk].status, rows[capped.pk].skip_reason) == ("skipped", "frequency_cap")
    assert (rows[opted_out.pk].status, rows[opted_out.pk].skip_reason) == ("skipped", "opted_out")
    assert (rows[no_phone.pk].status, rows[no_phone.pk].error_code) == ("failed", "no_address")
    assert (rows[taken.pk].status, rows[taken.pk].lease_owner) == ("pending", "another-worker")
    decision = next(decision for _pk, decision, _s in prepared if decision.outcome == "send")
    assert decision.message.text.startswith("顾客") and decision.address.endswith(tuple("0123456789"))


def test_a_block_runs_the_same_statements_for_five_messages_as_for_twenty():
    no_quiet_hours()
    statements = []
    for size in (5, 20):
        for i in range(size):
            member(sms_consent=True, name=f"顾客{size}-{i}")
        made = launched(campaign(name=f"批量{size}"))
        ids = claimed(made)
        context = dispatch.batch_context(ids)
        with CaptureQueriesContext(connection) as queries:
            prepared = dispatch.prepare_block(message_ids=ids, owner="w", context=context)
        assert {decision.outcome for _pk, decision, _s in prepared} == {"send"} and len(prepared) >= size
        statements.append(len(queries))
    assert statements[0] == statements[1] <= 8, statements  # lock, consent, contact locks, cap, sending


def test_a_member_twice_in_a_block_is_counted_against_the_cap_once_per_send():
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    someone = member(sms_consent=True)
    other = member(sms_consent=True)
    first, second = launched(campaign(name="一")), launched(campaign(name="二"))
    ids = claimed(first) + claimed(second)
    prepared = {pk: decision.outcome for pk, decision, _s in prepare(ids)}
    for person in (someone, other):
        rows = OutboxMessage.objects.filter(member=person).order_by("pk")
        assert [prepared[row.pk] for row in rows] == ["send", "skipped"]
        assert [(row.status, row.skip_reason) for row in rows] == [("sending", ""), ("skipped", "frequency_cap")]


def test_a_member_twice_in_a_block_gets_both_when_the_cap_allows_and_the_first_is_counted():
    no_quiet_hours(frequency_cap_messages=2, frequency_cap_days=30)
    someone = member(sms_consent=True)
    made = [launched(campaign(name=name)) for name in ("一", "二", "三")]
    ids = [pk for one in made for pk in claimed(one)]
    outcomes = [decision.outcome for _pk, decision, _s in prepare(ids)]
    assert outcomes == ["send", "send", "skipped"]
    assert OutboxMessage.objects.filter(member=someone, status="sending").count() == 2


def test_a_render_failure_in_a_block_does_not_use_up_the_members_cap():
    """The cap counts only the sends of earlier rounds: a message that fails to render leaves the
    member's next message in the block free to go."""
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    someone = member(sms_consent=True)
    broken = launched(campaign(name="坏", body="{{ member.name }}您好"))
    good = launched(campaign(name="好"))
    ids = claimed(broken) + claimed(good)
    original = dispatch.message_for

    def failing_for_broken(made, *args, **kwargs):
        if made.pk == broken.pk:
            raise ValueError("bad template")
        return original(made, *args, **kwargs)

    dispatch.message_for = failing_for_broken
    try:
        outcomes = [decision.outcome for _pk, decision, _s in prepare(ids)]
    finally:
        dispatch.message_for = original
    assert outcomes == ["failed", "send"]
    row = OutboxMessage.objects.get(campaign=broken, member=someone)
    assert (row.status, row.error) == ("failed", "Template error: ValueError")


def test_quiet_hours_and_the_daily_budget_in_one_block():
    no_quiet_hours(sms_daily_budget=2, frequency_cap_messages=100)
    for i in range(4):
        member(sms_consent=True, name=f"顾客{i}")
    noon = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=SH)
    with time_machine.travel(noon, tick=False):
        made = launched(campaign(), now=noon)
        outcomes = [decision.outcome for _pk, decision, _s in prepare(claimed(made), now=noon)]
    assert outcomes == ["send", "send", "deferred", "deferred"]
    waiting = made.outbox_messages.filter(status="pending")
    assert set(waiting.values_list("not_before", "lease_owner")) == {(datetime.datetime(2026, 3, 3, tzinfo=SH), "")}

    services.update_contact_policy(quiet_hours_start=datetime.time(21), quiet_hours_end=datetime.time(9))
    late = datetime.datetime(2026, 3, 3, 22, 30, tzinfo=SH)
    with time_machine.travel(late, tick=False):
        outcomes = [decision.outcome for _pk, decision, _s in prepare(claimed(made), now=late)]
    assert outcomes == ["deferred", "deferred"]
    assert set(waiting.values_list("not_before", flat=True)) == {datetime.datetime(2026, 3, 4, 9, 0, tzinfo=SH)}


def test_a_cancelled_campaigns_block_is_skipped_as_cancelled():
    no_quiet_hours()
    for _i in range(3):
        member(sms_consent=True)
    made = launched(campaign())
    ids = claimed(made)
    made.__class__.objects.filter(pk=made.pk).update(status="cancelled")
    assert [decision.outcome for _pk, decision, _s in prepare(ids)] == ["skipped"] * 3
    assert set(made.outbox_messages.values_list("status", "skip_reason")) == {("skipped", "cancelled")}


def mixed_answers(monkeypatch, answer_of):
    """Send through the thread pool (as in production) with answers chosen per member name."""
    calls: list[int] = []
    lock = threading.Lock()

    def fake_send(decision, reference, message_id):
        with lock:
            calls.append(message_id)
        return answer_of(decision, message_id)

    monkeypatch.setattr(dispatch, "_send", fake_send)
    monkeypatch.setattr(dispatch, "_sends_inline", lambda channel: False)
    return calls


def test_a_block_records_sent_refused_temporary_and_in_doubt_set_based(monkeypatch, settings):
    settings.CAMPAIGN_SEND_THREADS = 8
    no_quiet_hours(sms_rate=1000, frequency_cap_messages=1, frequency_cap_days=30)
    capped = member(sms_consent=True, name="已满")
    launched(campaign(name="先前"))
    drain()
    names = ["收到", "收到2", "拒收", "稍后", "不明"]
    people = {name: member(sms_consent=True, name=name) for name in names}
    no_phone = member(sms_consent=True, name="无号")
    Member.objects.filter(pk=no_phone.pk).update(phone=None)
    made = launched(campaign(name="春季", body="{{ member.name }}您好"))

    def answer_of(decision, message_id):
        text = decision.message.text
        if text.startswith("拒收"):
            raise ChannelError("isv.MOBILE_NUMBER_ILLEGAL", "The phone number is not valid for SMS.")
        if text.startswith("稍后"):
            raise ChannelError("isv.BUSINESS_LIMIT_CONTROL", "Too many messages.", temporary=True)
        if text.startswith("不明"):
            raise ChannelInDoubt("timeout")
        return f"biz-{message_id}"

    calls = mixed_answers(monkeypatch, answer_of)
    with CaptureQueriesContext(connection) as queries:
        result = dispatch.dispatch_batch(owner="w", batch_size=100)

    assert (result.claimed, result.sent, result.failed, result.retried, result.in_doubt, result.skipped) == (
        7, 2, 2, 1, 1, 1,
    )  # fmt: skip
    rows = {row.member_id: row for row in made.outbox_messages.all()}
    for name in ("收到", "收到2"):
        row = rows[people[name].pk]
        assert (row.status, row.provider_ref, row.lease_owner) == ("sent", f"biz-{row.pk}", "")
    refused = rows[people["拒收"].pk]
    assert (refused.status, refused.error_code) == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")
    later = rows[people["稍后"].pk]
    assert (later.status, later.retries, later.error_code) == ("pending", 1, "isv.BUSINESS_LIMIT_CONTROL")
    assert later.not_before is not None and later.lease_owner == ""
    doubtful = rows[people["不明"].pk]
    assert (doubtful.status, doubtful.error_code) == ("in_doubt", "timeout")
    assert (rows[capped.pk].status, rows[capped.pk].skip_reason) == ("skipped", "frequency_cap")
    assert (rows[no_phone.pk].status, rows[no_phone.pk].error_code) == ("failed", "no_address")
    assert len(calls) == 5 == len(set(calls))  # each prepared message handed over once
    # One transaction for the block's prepare, one for its answers (the retry's own savepoint inside).
    sql = [query["sql"] for query in queries.captured_queries]
    assert sum(s.startswith("UPDATE") and "FROM (VALUES" in s for s in sql) == 3  # sent, failed, in doubt


def test_offers_are_settled_for_the_block_points_for_the_sent_coupons_voided_for_the_refused(monkeypatch, settings):
    settings.CAMPAIGN_SEND_THREADS = 8
    no_quiet_hours(sms_rate=1000)
    sent_people = [member(sms_consent=True, name=f"收到{i}") for i in range(3)]
    refused_person = member(sms_consent=True, name="拒收")
    with_points = campaign(name="送积分", body="{{ member.name }}您好，赠{{ offer_points }}分")
    offers.set_offer(campaign=with_points, kind="points", points=50)
    template = catalogue_factories.template()
    with_coupon = campaign(name="送券", body="{{ member.name }}您好，券码{{ coupon.code }}")
    offers.set_offer(campaign=with_coupon, kind="coupon", coupon_template=template)
    launched(with_points)
    launched(with_coupon)
    services.update_contact_policy(frequency_cap_messages=100)

    def answer_of(decision, message_id):
        if decision.message.text.startswith("拒收"):
            raise ChannelError("isv.MOBILE_NUMBER_ILLEGAL", "The phone number is not valid for SMS.")
        return f"biz-{message_id}"

    mixed_answers(monkeypatch, answer_of)
    result = dispatch.dispatch_batch(owner="w", batch_size=100)

    assert (result.sent, result.failed) == (6, 2)
    bonus = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BONUS, reason_code="campaign")
    assert sorted(bonus.values_list("member_id", flat=True)) == sorted(m.pk for m in sent_people)
    assert OfferGrant.objects.filter(campaign=with_points).count() == 3  # none for the refused message
    coupons = {grant.member_id: grant.coupon for grant in OfferGrant.objects.filter(campaign=with_coupon)}
    assert len(coupons) == 4  # issued before the send, one per message
    assert coupons[refused_person.pk].status == Coupon.Status.VOID
    assert {coupons[m.pk].status for m in sent_people} == {Coupon.Status.ISSUED}

    drain()  # nothing more: settling again gives nothing twice
    assert bonus.count() == 3


def test_a_database_error_in_a_block_falls_back_to_one_message_at_a_time(monkeypatch, settings):
    """A plain message renders without a savepoint: a database error there rolls the block back,
    and the block is prepared again one message at a time (each in its own savepoint)."""
    settings.CAMPAIGN_SEND_THREADS = 4
    no_quiet_hours(sms_rate=1000)
    people = [member(sms_consent=True, name=f"顾客{i}") for i in range(4)]
    made = launched(campaign(body="{{ member.name }}您好"))
    real = dispatch.message_for
    broken = people[1]

    def message_for(made_, someone, *args, **kwargs):
        if someone.pk == broken.pk:
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM campaigns_outboxmessage")
        return real(made_, someone, *args, **kwargs)

    monkeypatch.setattr(dispatch, "message_for", message_for)
    mixed_answers(monkeypatch, lambda decision, message_id: f"biz-{message_id}")
    result = dispatch.dispatch_batch(owner="w", batch_size=100)
    assert (result.sent, result.failed) == (3, 1)
    row = made.outbox_messages.get(member=broken)
    assert (row.status, row.error) == ("failed", "Template error: ProgrammingError")
