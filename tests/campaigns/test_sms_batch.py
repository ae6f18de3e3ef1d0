"""Batch sends (issue 14): a block of SMS in ONE provider call — Aliyun `SendBatchSms` through the
real SDK against the fake server, which checks it as Aliyun documents — with the exactly-once
statuses kept: a block is `sending` before the call, the call's answer is each message's (sent
with its own id, failed, retried, in doubt), receipts find each batch-sent message, the rate
limiter and the daily budget count messages."""

from __future__ import annotations

import json

import pytest
from alibabacloud_dysmsapi20170525.models import SendBatchSmsRequest
from darabonba.exceptions import ResponseException

from campaigns import channels
from campaigns.channels import ChannelError, ChannelInDoubt, TemplateMessage
from campaigns.channels.aliyun import message_ref
from campaigns.services import dispatch
from tests.campaigns.helpers import campaign, drain, launched, no_quiet_hours
from tests.members import factories

TEMPLATE = "SMS_123456789"
PHONES = ["+8613800000001", "+8613800000002", "+8613800000003"]


def message(name="张三", points="120", template=TEMPLATE, sign=""):
    return TemplateMessage(
        template_code=template, params={"name": name, "points": points}, text=f"{name}您好", sign_name=sign
    )


def items(count=3, **kwargs):
    return [(f"+861380000{i:04d}", message(name=f"顾客{i}", **kwargs), f"outbox-{i}") for i in range(1, count + 1)]


def provider():
    return channels.sms_provider()


# --- the provider: SendBatchSms through the SDK ----------------------------------------------------


def test_a_batch_is_one_call_with_one_biz_id_and_each_message_its_own_id(aliyun_sms):
    batch = items(3)
    batch[1] = (batch[1][0], message(name="李四", sign="花漾"), batch[1][2])
    refs = provider().send_batch(batch)
    assert aliyun_sms.requests == 1 and aliyun_sms.batch_requests == 1
    accepted = aliyun_sms.accepted
    assert [a.phone for a in accepted] == [phone for phone, _m, _r in batch]
    assert len({a.message_id for a in accepted}) == 1  # one BizId for the whole call
    assert refs == [message_ref(a.message_id, a.phone) for a in accepted] and len(set(refs)) == 3
    assert [a.params for a in accepted] == [{"name": "顾客1", "points": "120"}, {"name": "李四", "points": "120"},
                                            {"name": "顾客3", "points": "120"}]  # fmt: skip
    assert [a.sign_name for a in accepted] == ["会员俱乐部", "花漾", "会员俱乐部"]  # each number's signature
    assert {a.extra["PhoneNumbers"] for a in accepted} == {"13800000001", "13800000002", "13800000003"}
    assert all(a.template_code == TEMPLATE and a.extra["batch"] for a in accepted)


def test_a_template_without_variables_sends_no_template_param_json(aliyun_sms):
    batch = [(phone, TemplateMessage(template_code="SMS_1"), f"outbox-{i}") for i, phone in enumerate(PHONES)]
    provider().send_batch(batch)
    assert [a.params for a in aliyun_sms.accepted] == [{}, {}, {}]


def sdk_batch(fake, **fields):
    """A SendBatchSms request as the SDK signs it, with fields the provider would never send."""
    request = SendBatchSmsRequest(template_code=TEMPLATE, **fields)
    try:
        return provider().client.send_batch_sms(request).body.to_map()
    except ResponseException as exc:
        return {"Code": exc.code}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"phone_number_json": '["13800000001","13800000002"]', "sign_name_json": '["会员俱乐部"]'},
         "isv.INVALID_PARAMETERS"),
        ({"phone_number_json": '["13800000001"]', "sign_name_json": '["会员俱乐部"]',
          "template_param_json": '[{"name":"a"},{"name":"b"}]'}, "isv.INVALID_PARAMETERS"),
        ({"phone_number_json": json.dumps([f"138{i:08d}" for i in range(101)]),
          "sign_name_json": json.dumps(["会员俱乐部"] * 101)}, "isv.MOBILE_COUNT_OVER_LIMIT"),
        ({"phone_number_json": "13800000001", "sign_name_json": '["会员俱乐部"]'}, "isv.INVALID_PARAMETERS"),
        ({"phone_number_json": '["13800000001"]', "sign_name_json": '["会员俱乐部"]',
          "template_param_json": '[{"name": 1}]'}, "isv.INVALID_JSON_PARAM"),
        ({"phone_number_json": '["13800000001","12345"]', "sign_name_json": '["会员俱乐部","会员俱乐部"]'},
         "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"sign_name_json": '["会员俱乐部"]'}, "MissingPhoneNumberJson"),
    ],
)  # fmt: skip
def test_the_fake_checks_send_batch_sms_as_documented(aliyun_sms, fields, code):
    assert sdk_batch(aliyun_sms, **fields)["Code"] == code
    assert aliyun_sms.accepted == []


def test_the_fake_checks_every_signature_and_the_templates_variables(aliyun_sms):
    aliyun_sms.sign_names = ["会员俱乐部"]
    aliyun_sms.templates = {TEMPLATE: ["name", "points"]}
    with pytest.raises(ChannelError) as refused:
        provider().send_batch([items(2)[0], (PHONES[2], message(sign="别家"), "outbox-9")])
    assert refused.value.code == "isv.SMS_SIGNATURE_ILLEGAL" and not refused.value.temporary
    aliyun_sms.sign_names = None
    with pytest.raises(ChannelError) as unknown:
        provider().send_batch(items(2, template="SMS_404"))
    assert unknown.value.code == "isv.SMS_TEMPLATE_ILLEGAL" and aliyun_sms.accepted == []


def test_a_refusal_one_number_causes_falls_back_to_single_sends(aliyun_sms):
    batch = items(3)
    aliyun_sms.fail(batch[1][0], "isv.MOBILE_NUMBER_ILLEGAL")
    answers = provider().send_batch(batch)
    # the batch was refused whole (nothing accepted), then each message went alone
    assert aliyun_sms.batch_requests == 1 and aliyun_sms.requests == 4
    assert isinstance(answers[1], ChannelError) and answers[1].code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert [a.phone for a in aliyun_sms.accepted] == [batch[0][0], batch[2][0]]
    assert not any(a.extra.get("batch") for a in aliyun_sms.accepted)
    assert answers[0] == message_ref(aliyun_sms.accepted[0].message_id, batch[0][0])


def test_a_numbers_flow_control_is_temporary_for_that_number_only(aliyun_sms):
    batch = items(3)
    aliyun_sms.fail(batch[0][0], "isv.BUSINESS_LIMIT_CONTROL")
    answers = provider().send_batch(batch)
    assert isinstance(answers[0], ChannelError) and answers[0].temporary
    assert all(isinstance(answer, str) for answer in answers[1:])


WHOLE_CALL = [("Throttling.User", True), ("isv.AMOUNT_NOT_ENOUGH", False), ("isp.SYSTEM_ERROR", True),
              ("SignatureDoesNotMatch", False)]  # fmt: skip


@pytest.mark.parametrize(("code", "temporary"), WHOLE_CALL)
def test_a_whole_call_refusal_is_raised_for_every_message(aliyun_sms, code, temporary):
    batch = items(3)
    aliyun_sms.fail(batch[2][0], code)
    with pytest.raises(ChannelError) as refused:
        provider().send_batch(batch)
    assert (refused.value.code, refused.value.temporary) == (code, temporary)
    assert aliyun_sms.requests == 1 and aliyun_sms.accepted == []


@pytest.mark.parametrize("misbehaviour", ["hang", "close"])
def test_a_lost_answer_leaves_the_whole_call_in_doubt(aliyun_sms, misbehaviour):
    batch = items(3)
    getattr(aliyun_sms, misbehaviour)(batch[1][0])
    with pytest.raises(ChannelInDoubt):
        provider().send_batch(batch)
    assert len(aliyun_sms.accepted) == 3 and not any(a.answered for a in aliyun_sms.accepted)


def test_the_batch_size_is_the_setting_capped_by_the_provider(aliyun_sms, settings):
    settings.SMS_BATCH_SIZE = 500
    assert channels.sms_batch_size() == 100  # Aliyun: at most 100 numbers a call
    settings.SMS_BATCH_SIZE = 20
    assert channels.sms_batch_size() == 20
    settings.SMS_BATCH_SIZE = 1
    assert channels.sms_batch_size() == 1
    settings.SMS_PROVIDER = "log"
    settings.SMS_BATCH_SIZE = 100
    assert channels.sms_batch_size() == 1  # the development log cannot batch


def test_calls_group_by_template_and_never_hold_a_number_twice(aliyun_sms):
    def prepared(pk, phone, template):
        return (pk, dispatch.Decision("send", message=message(template=template), address=phone), None)

    block = [
        prepared(1, PHONES[0], "SMS_A"), prepared(2, PHONES[1], "SMS_B"), prepared(3, PHONES[0], "SMS_A"),
        prepared(4, PHONES[2], "SMS_A"), prepared(5, PHONES[1], ""), prepared(6, PHONES[2], "SMS_B"),
    ]  # fmt: skip
    calls = dispatch._calls(block, batch=100)
    assert sorted(calls) == [[0, 3], [1, 5], [2], [4]]
    assert sorted(dispatch._calls(block, batch=1)) == [[0], [1], [2], [3], [4], [5]]


# --- the dispatcher: campaigns sent in batches -----------------------------------------------------


@pytest.fixture
def batch_campaign(aliyun_sms, settings, db):
    settings.SMS_BATCH_SIZE = 100
    settings.CAMPAIGN_SEND_THREADS = 4
    no_quiet_hours(sms_rate=1000, frequency_cap_messages=100)
    return aliyun_sms


def sms_members(count):
    return [factories.member(name=f"顾客{i}", consents={"marketing_sms": True}) for i in range(count)]


def template(code=TEMPLATE):
    from campaigns.services import message_templates

    return message_templates.save_message_template(
        name=f"会员积分 {code}", channel="sms", provider_code=code, sign_name="花漾",
        text="${name}您好，您有${points}积分。", variables={"name": "member.name", "points": "points_balance"},
    )  # fmt: skip


def statuses(made):
    return sorted(made.outbox_messages.values_list("status", flat=True))


@pytest.mark.django_db
def test_a_campaign_goes_out_in_one_call_and_each_message_is_sent_with_its_own_id(batch_campaign):
    people = sms_members(5)
    made = launched(campaign(body="", message_template=template()))
    drain()
    assert statuses(made) == ["sent"] * 5
    assert batch_campaign.requests == 1 and batch_campaign.batch_requests == 1
    biz_id = batch_campaign.accepted[0].message_id
    sent = {m.member.phone: m.provider_ref for m in made.outbox_messages.select_related("member")}
    assert sent == {p.phone: message_ref(biz_id, p.phone) for p in people}
    assert {a.params["name"] for a in batch_campaign.accepted} == {p.name for p in people}
    drain()
    assert batch_campaign.requests == 1  # nothing again


@pytest.mark.django_db
def test_messages_of_different_templates_go_in_separate_calls(batch_campaign):
    sms_members(3)
    first = launched(campaign(body="", message_template=template("SMS_1")))
    second = launched(campaign(name="第二场", body="", message_template=template("SMS_2")))
    drain()
    assert statuses(first) == statuses(second) == ["sent"] * 3
    assert batch_campaign.requests == 2 == batch_campaign.batch_requests
    calls: dict[str, set] = {}
    for accepted in batch_campaign.accepted:
        calls.setdefault(accepted.message_id, set()).add(accepted.template_code)
    assert sorted(calls.values(), key=sorted) == [{"SMS_1"}, {"SMS_2"}]


@pytest.mark.django_db
def test_sms_batch_size_one_sends_one_message_per_call(batch_campaign, settings):
    settings.SMS_BATCH_SIZE = 1
    sms_members(3)
    made = launched(campaign(body="", message_template=template()))
    drain()
    assert statuses(made) == ["sent"] * 3
    assert batch_campaign.requests == 3 and batch_campaign.batch_requests == 0


@pytest.mark.django_db
def test_a_smaller_batch_size_splits_the_block(batch_campaign, settings):
    settings.SMS_BATCH_SIZE = 2
    sms_members(5)
    made = launched(campaign(body="", message_template=template()))
    drain()
    assert statuses(made) == ["sent"] * 5
    assert batch_campaign.requests == 3 and batch_campaign.batch_requests == 2  # 2 + 2 + 1


@pytest.mark.django_db
def test_a_whole_call_refusal_fails_every_message_with_the_code(batch_campaign):
    batch_campaign.templates = {"SMS_OTHER": []}  # the campaign's template is not approved
    sms_members(3)
    made = launched(campaign(body="", message_template=template()))
    drain()
    rows = list(made.outbox_messages.values_list("status", "error_code"))
    assert rows == [("failed", "isv.SMS_TEMPLATE_ILLEGAL")] * 3
    assert batch_campaign.requests == 1 and batch_campaign.accepted == []


@pytest.mark.django_db
def test_one_bad_number_fails_alone_and_the_others_are_sent(batch_campaign):
    people = sms_members(3)
    batch_campaign.fail(people[1].phone, "isv.MOBILE_NUMBER_ILLEGAL")
    made = launched(campaign(body="", message_template=template()))
    drain()
    by_member = dict(made.outbox_messages.values_list("member_id", "status"))
    assert by_member == {people[0].pk: "sent", people[1].pk: "failed", people[2].pk: "sent"}
    assert made.outbox_messages.get(member=people[1]).error_code == "isv.MOBILE_NUMBER_ILLEGAL"


@pytest.mark.django_db
def test_throttling_sends_every_message_back_to_pending_with_a_backoff(batch_campaign):
    people = sms_members(3)
    batch_campaign.fail(people[0].phone, "Throttling.User")
    made = launched(campaign(body="", message_template=template()))
    result = dispatch.dispatch_batch(owner="w1", batch_size=50)
    assert result.retried == 3 and result.sent == 0
    rows = list(made.outbox_messages.values_list("status", "retries", "error_code"))
    assert rows == [("pending", 1, "Throttling.User")] * 3
    assert all(m.not_before is not None for m in made.outbox_messages.all())


@pytest.mark.django_db
def test_a_lost_answer_leaves_every_message_of_the_call_in_doubt_and_never_resends(batch_campaign):
    people = sms_members(3)
    batch_campaign.hang(people[2].phone)
    made = launched(campaign(body="", message_template=template()))
    result = dispatch.dispatch_batch(owner="w1", batch_size=50)
    assert result.in_doubt == 3
    assert statuses(made) == ["in_doubt"] * 3
    batch_campaign.release.set()
    drain()
    assert batch_campaign.requests == 1 and len(batch_campaign.accepted) == 3


@pytest.mark.django_db
def test_the_rate_limiter_counts_messages_not_calls(batch_campaign, monkeypatch):
    from campaigns.services import dispatch as module

    no_quiet_hours(sms_rate=2, frequency_cap_messages=100)
    asked = []
    real = module.take_send_slots

    def counting(channel, rate, wanted, **kwargs):
        granted = real(channel, rate, wanted, **kwargs)
        asked.append((rate, wanted, granted))
        return granted

    monkeypatch.setattr(module, "take_send_slots", counting)
    sms_members(5)
    made = launched(campaign(body="", message_template=template()))
    drain()
    assert statuses(made) == ["sent"] * 5
    assert sum(granted for _r, _w, granted in asked) == 5 and all(granted <= 2 for _r, _w, granted in asked)
    # each call held as many messages as the slots granted: 2 + 2 + 1
    sizes = {}
    for accepted in batch_campaign.accepted:
        sizes[accepted.message_id] = sizes.get(accepted.message_id, 0) + 1
    assert sorted(sizes.values()) == [1, 2, 2]


@pytest.mark.django_db
def test_the_daily_budget_counts_messages_in_a_batch(batch_campaign):
    no_quiet_hours(sms_rate=1000, sms_daily_budget=3, frequency_cap_messages=100)
    sms_members(5)
    made = launched(campaign(body="", message_template=template()))
    drain()
    assert statuses(made) == ["pending"] * 2 + ["sent"] * 3
    assert batch_campaign.requests == 1 and len(batch_campaign.accepted) == 3


# --- receipts for batch-sent messages ----------------------------------------------------------------

TOKEN = "receipt-token-0123456789abcdef"


def post(client, reports, token=TOKEN):
    return client.post(
        f"/hooks/sms/aliyun/?token={token}", data=json.dumps(reports, ensure_ascii=False),
        content_type="application/json",
    )  # fmt: skip


@pytest.mark.django_db
def test_each_receipt_of_a_batch_marks_its_own_message(batch_campaign, client, settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    people = sms_members(3)
    made = launched(campaign(body="", message_template=template()))
    drain()
    by_phone = {a.phone: a for a in batch_campaign.accepted}
    second = by_phone[people[1].phone]
    assert post(client, [batch_campaign.receipt(second, delivered=False, err_code="MK:0005")]).status_code == 200
    assert post(client, [batch_campaign.receipt(by_phone[people[0].phone])]).status_code == 200
    rows = dict(made.outbox_messages.values_list("member_id", "status"))
    assert rows == {people[0].pk: "delivered", people[1].pk: "undelivered", people[2].pk: "sent"}


@pytest.mark.django_db
def test_a_forged_or_replayed_receipt_of_a_batch_changes_nothing(batch_campaign, client, settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    sms_members(2)
    made = launched(campaign(body="", message_template=template()))
    drain()
    accepted = batch_campaign.accepted[0]
    good = batch_campaign.receipt(accepted)
    forged = {**good, "phone_number": "13999999999"}  # the batch's BizId with another number
    assert post(client, [forged]).status_code == 200
    assert post(client, [{**good, "biz_id": accepted.message_id + "x"}]).status_code == 200
    assert post(client, [good], token="wrong").status_code == 403
    assert statuses(made) == ["sent", "sent"]
    assert post(client, [good]).status_code == 200
    delivered = made.outbox_messages.get(status="delivered")
    assert delivered.member.phone == accepted.phone
    assert post(client, [{**good, "success": False, "err_code": "MK:0001"}]).status_code == 200  # replay, changed
    assert made.outbox_messages.get(pk=delivered.pk).status == "delivered"
    assert statuses(made) == ["delivered", "sent"]


@pytest.mark.django_db
def test_a_receipt_for_a_message_sent_before_batches_still_matches_its_bare_biz_id(batch_campaign, client, settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    sms_members(1)
    made = launched(campaign(body="", message_template=template()))
    drain()
    accepted = batch_campaign.accepted[0]
    made.outbox_messages.update(provider_ref=accepted.message_id)  # as stored before this change
    assert post(client, [batch_campaign.receipt(accepted)]).status_code == 200
    assert statuses(made) == ["delivered"]


# --- Tencent: SendSms with several numbers, one TemplateParamSet -----------------------------------


def announcement(template="1234567"):
    return TemplateMessage(template_code=template, params={"1": "春季新品"}, text="春季新品到店")


def test_tencent_sends_identical_messages_in_one_call_each_with_its_serial_no(tencent_sms):
    batch = [(phone, announcement(), f"outbox-{i}") for i, phone in enumerate(PHONES)]
    answers = provider().send_batch(batch)
    assert tencent_sms.requests == 1 and tencent_sms.batch_requests == 1
    serials = {a.phone: a.message_id for a in tencent_sms.accepted}
    assert answers == [serials[phone] for phone in PHONES] and len(set(answers)) == 3


def test_tencent_maps_each_numbers_status_back(tencent_sms):
    tencent_sms.fail(PHONES[1], "FailedOperation.PhoneNumberInBlacklist")
    tencent_sms.fail(PHONES[2], "LimitExceeded.PhoneNumberDailyLimit")
    answers = provider().send_batch([(phone, announcement(), f"outbox-{i}") for i, phone in enumerate(PHONES)])
    assert answers[0] == tencent_sms.accepted[0].message_id
    assert isinstance(answers[1], ChannelError) and answers[1].code == "FailedOperation.PhoneNumberInBlacklist"
    assert isinstance(answers[2], ChannelError) and answers[2].code == "LimitExceeded.PhoneNumberDailyLimit"
    assert len(tencent_sms.accepted) == 1


def test_tencent_a_request_level_error_or_a_lost_answer_is_every_messages(tencent_sms):
    batch = [(phone, announcement(), f"outbox-{i}") for i, phone in enumerate(PHONES)]
    tencent_sms.fail(PHONES[0], "RequestLimitExceeded", level="request")
    with pytest.raises(ChannelError) as refused:
        provider().send_batch(batch)
    assert refused.value.temporary and tencent_sms.accepted == []
    tencent_sms.reset()
    tencent_sms.hang(PHONES[2])
    with pytest.raises(ChannelInDoubt):
        provider().send_batch(batch)


def test_tencent_batches_only_messages_with_the_same_variables(tencent_sms):
    tencent = provider()
    assert tencent.batch_key(announcement()) == tencent.batch_key(announcement())
    assert tencent.batch_key(message(name="张三")) != tencent.batch_key(message(name="李四"))
    assert tencent.batch_key(TemplateMessage(template_code="")) is None


@pytest.mark.django_db
def test_a_tencent_announcement_goes_out_in_one_call_a_personal_one_in_one_call_each(tencent_sms, settings):
    from campaigns.services import message_templates

    settings.SMS_BATCH_SIZE = 100
    no_quiet_hours(sms_rate=1000, frequency_cap_messages=100)
    sms_members(3)
    plain = message_templates.save_message_template(
        name="新品通知", channel="sms", provider_code="1234567", sign_name="花漾", text="春季新品到店，欢迎选购。",
        variables={},
    )  # fmt: skip
    made = launched(campaign(body="", message_template=plain))
    drain()
    assert statuses(made) == ["sent"] * 3
    assert tencent_sms.requests == 1 and tencent_sms.batch_requests == 1
    refs = set(made.outbox_messages.values_list("provider_ref", flat=True))
    assert refs == {a.message_id for a in tencent_sms.accepted} and len(refs) == 3
    personal = message_templates.save_message_template(
        name="积分通知", channel="sms", provider_code="7654321", sign_name="花漾", text="{1}您好，欢迎到店。",
        variables={"1": "member.name"},
    )  # fmt: skip
    second = launched(campaign(name="第二场", body="", message_template=personal))
    drain()
    assert statuses(second) == ["sent"] * 3
    assert tencent_sms.requests == 4 and tencent_sms.batch_requests == 1


@pytest.mark.django_db
def test_a_receipt_before_the_batchs_ids_were_stored_waits_and_is_applied(batch_campaign, client, settings):
    from campaigns.models import EarlyReceipt
    from campaigns.services import receipts

    settings.SMS_RECEIPT_TOKEN = TOKEN
    sms_members(2)
    made = launched(campaign(body="", message_template=template()))
    drain()
    accepted = batch_campaign.accepted[0]
    row = made.outbox_messages.get(provider_ref=message_ref(accepted.message_id, accepted.phone))
    ref = row.provider_ref
    made.outbox_messages.filter(pk=row.pk).update(status="sending", provider_ref="")  # the worker has not recorded
    assert post(client, [batch_campaign.receipt(accepted)]).status_code == 200
    assert list(EarlyReceipt.objects.values_list("provider_ref", flat=True)) == [ref]  # waits under BizId + tag
    made.outbox_messages.filter(pk=row.pk).update(status="sent", provider_ref=ref)
    assert receipts.apply_early_receipts(channel="sms", provider_refs=[ref]) == 1  # what record_block runs
    assert statuses(made) == ["delivered", "sent"] and not EarlyReceipt.objects.exists()
