"""The public unsubscribe page: a signed link, no login, a withdrawal recorded in consent history."""

import pytest

from campaigns.channels import unsubscribe_token, unsubscribe_url
from members.models import ConsentEvent
from members.services import consent_state
from tests.campaigns.helpers import member

pytestmark = pytest.mark.django_db


def path_for(someone, channel="email"):
    return f"/unsubscribe/{unsubscribe_token(member_no=someone.member_no, channel=channel)}/"


def test_link_asks_for_confirmation_without_changing_anything(client):
    someone = member(email_consent=True)
    response = client.get(path_for(someone), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "退订" in response.content.decode()
    assert consent_state(someone)["marketing_email"] is True


def test_confirming_withdraws_consent_at_once_and_records_it(client):
    someone = member(email_consent=True, sms_consent=True)
    response = client.post(path_for(someone))
    assert response.status_code == 200
    state = consent_state(someone)
    assert state["marketing_email"] is False and state["marketing_sms"] is True  # only that channel
    event = ConsentEvent.objects.filter(member=someone, topic="marketing_email").first()
    assert (event.granted, event.source, event.actor) == (False, "unsubscribe", None)


def test_sms_links_withdraw_sms(client):
    someone = member(sms_consent=True)
    client.post(path_for(someone, "sms"))
    assert consent_state(someone)["marketing_sms"] is False


def test_posting_twice_records_one_withdrawal(client):
    someone = member(email_consent=True)
    client.post(path_for(someone))
    client.post(path_for(someone))
    assert ConsentEvent.objects.filter(member=someone, topic="marketing_email", granted=False).count() == 1


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: t.split(":")[0]])
def test_tampered_link_is_refused_and_changes_nothing(client, mangle):
    someone = member(email_consent=True)
    token = mangle(unsubscribe_token(member_no=someone.member_no, channel="email"))
    assert client.get(f"/unsubscribe/{token}/").status_code == 400
    assert client.post(f"/unsubscribe/{token}/").status_code == 400
    assert consent_state(someone)["marketing_email"] is True


def test_a_token_signed_for_something_else_is_refused(client):
    from django.core import signing

    someone = member(email_consent=True)
    token = signing.dumps({"m": someone.member_no, "c": "email"}, salt="feedback.thanks")
    assert client.post(f"/unsubscribe/{token}/").status_code == 400


def test_url_is_absolute_for_messages(settings):
    settings.SITE_URL = "https://crm.example.com/"
    url = unsubscribe_url(member_no="M0000000001", channel="email")
    assert url.startswith("https://crm.example.com/unsubscribe/")
