"""`/hooks/wechat/`: WeChat's URL handshake and its signed event pushes (delivery receipts)."""

from __future__ import annotations

import datetime
import logging
import time
from urllib.parse import urlencode

import pytest
from wechatpy.crypto import WeChatCrypto

from campaigns.models import OutboxMessage
from tests.campaigns import helpers
from tests.fakes import wechat as fakes

URL = "/hooks/wechat/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def callback_settings(settings):
    settings.WECHAT_TOKEN = fakes.CALLBACK_TOKEN
    settings.WECHAT_APP_ID = fakes.APP_ID
    settings.WECHAT_ENCODING_AES_KEY = ""


@pytest.fixture
def sent_message():
    """A WeChat outbox message WeChat accepted with msgid 200163836."""
    campaign = helpers.campaign(channel="sms")
    member = helpers.member()
    return OutboxMessage.objects.create(
        campaign=campaign,
        step=campaign.steps.first(),
        member=member,
        channel="wechat",
        status=OutboxMessage.Status.SENT,
        provider_ref="200163836",
    )


def push(client, body: str | bytes, query: dict | None = None):
    query = fakes.signed_query() if query is None else query
    data = body.encode() if isinstance(body, str) else body
    return client.post(f"{URL}?{urlencode(query)}", data=data, content_type="text/xml")


def event(status="success", msgid="200163836", **kwargs) -> str:
    return fakes.template_event_xml(msgid=msgid, status=status, **kwargs)


# --- the URL handshake -----------------------------------------------------------------------


def test_the_handshake_echoes_echostr_when_the_signature_is_right(client):
    answer = client.get(URL, {**fakes.signed_query(), "echostr": "4753618802143592712"})
    assert answer.status_code == 200
    assert answer.content == b"4753618802143592712"


@pytest.mark.parametrize(
    "query",
    [
        {**fakes.signed_query(token="not-our-token"), "echostr": "1"},
        {"timestamp": "1", "nonce": "2", "echostr": "1"},
        {"echostr": "1"},
    ],
    ids=["forged", "unsigned", "nothing"],
)
def test_the_handshake_is_refused_without_the_right_signature(client, query):
    answer = client.get(URL, query)
    assert answer.status_code == 403
    assert b"1" not in answer.content.replace(b"invalid", b"")


def test_nothing_is_accepted_while_no_callback_token_is_configured(client, settings):
    settings.WECHAT_TOKEN = ""
    assert client.get(URL, {**fakes.signed_query(token=""), "echostr": "1"}).status_code == 403


# --- template delivery events ----------------------------------------------------------------


def test_a_success_event_marks_the_message_delivered_at_its_time(client, sent_message):
    created = int(time.time()) - 30
    answer = push(client, event(created=created))
    assert answer.status_code == 200
    assert answer.content == b"success"
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.DELIVERED
    assert sent_message.delivered_at == datetime.datetime.fromtimestamp(created, tz=datetime.UTC)


@pytest.mark.parametrize("status", ["failed:user block", "failed: system failed"])
def test_a_failed_event_marks_the_message_undelivered_with_wechats_status(client, sent_message, status):
    assert push(client, event(status)).content == b"success"
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.UNDELIVERED
    assert sent_message.error_code == status


def test_a_repeated_event_changes_nothing(client, sent_message):
    push(client, event("success"))
    answer = push(client, event("failed: system failed"))  # a later, contradicting push
    assert answer.content == b"success"
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.DELIVERED
    assert sent_message.error_code == ""


def test_an_event_for_an_unknown_message_is_acknowledged(client, sent_message):
    assert push(client, event(msgid="999")).content == b"success"
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


@pytest.mark.parametrize(
    "query",
    [
        fakes.signed_query(token="not-our-token"),
        {"timestamp": str(int(time.time())), "nonce": "abc"},
        {},
    ],
    ids=["forged", "unsigned", "nothing"],
)
def test_an_event_without_the_right_signature_is_refused(client, sent_message, query):
    assert push(client, event(), query=query).status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


def test_a_replayed_event_is_refused(client, sent_message):
    query = fakes.signed_query()
    assert push(client, event(msgid="999"), query=query).status_code == 200
    assert push(client, event(), query=query).status_code == 403  # same signature, nonce seen
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


@pytest.mark.parametrize("age", [-400, 400])
def test_an_event_with_a_timestamp_off_by_more_than_five_minutes_is_refused(client, sent_message, age):
    query = fakes.signed_query(timestamp=int(time.time()) - age)
    assert push(client, event(), query=query).status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


@pytest.mark.parametrize(
    "body",
    [
        "not xml",
        "<xml><MsgType>event</MsgType>",
        "<other/>",
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>&b;</MsgID>"
        "<Status>success</Status></xml>",  # well-formed: refused only because entities are
        "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event></xml>",
    ],
    ids=["text", "unclosed", "no-xml-root", "entities", "no-msgid"],
)
def test_a_malformed_body_is_a_400(client, sent_message, body):
    assert push(client, body).status_code == 400
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


def test_a_malformed_event_does_not_use_up_its_nonce(client, sent_message):
    query = fakes.signed_query()
    bad = "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event></xml>"
    assert push(client, bad, query=query).status_code == 400
    assert push(client, event(), query=query).status_code == 200  # WeChat's retry is not a replay


def test_a_body_too_large_is_refused(client):
    assert push(client, b"<xml>" + b"a" * 70_000 + b"</xml>").status_code == 413


def test_other_events_are_acknowledged_and_the_unsubscribe_log_has_no_openid(client, sent_message, caplog):
    caplog.set_level(logging.INFO)
    for kind in ("subscribe", "unsubscribe"):
        body = (
            "<xml><ToUserName><![CDATA[gh_fake]]></ToUserName><FromUserName><![CDATA[o-secret-openid]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{kind}]]></Event></xml>"
        )
        assert push(client, body).content == b"success"
    assert "o-secret-openid" not in caplog.text
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


# --- safe mode (AES) -------------------------------------------------------------------------

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them


def encrypted(body: str, *, timestamp: int | None = None, nonce: str = "n-aes-1") -> tuple[str, dict]:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    crypto = WeChatCrypto(fakes.CALLBACK_TOKEN, AES_KEY, fakes.APP_ID)
    envelope = crypto.encrypt_message(body, nonce, timestamp)
    msg_signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    # What WeChat POSTs in safe mode: ToUserName and Encrypt; the signatures are in the query.
    posted = f"<xml><ToUserName><![CDATA[gh_fake]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    query = {
        "signature": fakes.sign(fakes.CALLBACK_TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": msg_signature,
    }
    return posted, query


def test_safe_mode_decrypts_the_event(client, settings, sent_message):
    settings.WECHAT_ENCODING_AES_KEY = AES_KEY
    body, query = encrypted(event("failed:user block"))
    assert push(client, body, query=query).content == b"success"
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.UNDELIVERED


def test_safe_mode_refuses_a_forged_message_signature_and_plain_bodies(client, settings, sent_message):
    settings.WECHAT_ENCODING_AES_KEY = AES_KEY
    body, query = encrypted(event())
    assert push(client, body, query={**query, "msg_signature": "0" * 40}).status_code == 403
    assert push(client, event()).status_code == 403  # plain body, no encrypt_type
    sent_message.refresh_from_db()
    assert sent_message.status == OutboxMessage.Status.SENT


# --- end to end: wechatpy against the fake, the receipt through a running server ---------------


@pytest.mark.django_db(transaction=True)
def test_a_message_sent_through_the_fake_is_marked_delivered_by_its_pushed_receipt(live_server, settings):
    from campaigns.channels.base import TemplateMessage
    from campaigns.channels.wechat import send_wechat

    with fakes.serving(settings) as fake:
        msgid = send_wechat(
            openid="o-member-9", message=TemplateMessage(template_code="TPL-1", params={"name": "A"}), reference="r"
        )
        campaign = helpers.campaign(channel="sms")
        message = OutboxMessage.objects.create(
            campaign=campaign,
            step=campaign.steps.first(),
            member=helpers.member(),
            channel="wechat",
            status=OutboxMessage.Status.SENT,
            provider_ref=msgid,
        )
        hook = live_server.url + URL
        assert fakes.post_template_event(hook, msgid=msgid, status="failed:user block").text == "success"
        assert fakes.post_template_event(hook, msgid=msgid, token="forged").status_code == 403
    assert fake.sent[0]["touser"] == "o-member-9"
    message.refresh_from_db()
    assert (message.status, message.error_code) == (OutboxMessage.Status.UNDELIVERED, "failed:user block")
