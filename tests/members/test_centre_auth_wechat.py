"""Sign in with WeChat (loyalty_crm.centre.auth, wechat_oauth) against the local fake WeChat (tests/fakes/wechat.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.conf import settings as django_settings

from loyalty_crm.centre import wechat_oauth
from loyalty_crm.centre.session import member_for_token
from members.models import Member, MemberSession
from tests.fakes.wechat import serving
from tests.members import factories
from tests.members.centre_helpers import PHONE, last_code

pytestmark = pytest.mark.django_db
COOKIE = django_settings.MEMBER_SESSION_COOKIE_NAME


@pytest.fixture
def wechat(settings):
    with serving(settings) as fake:
        settings.SITE_URL = "http://testserver"
        yield fake


def through_wechat(client, wechat, *, next_url="/m/points/"):
    """Follow /m/wechat/ to the fake's authorize URL and back to our callback; the callback's answer."""
    start = client.get(f"/m/wechat/?next={next_url}")
    assert start.status_code == 302
    authorize = start["Location"]
    assert authorize.startswith(wechat.base_url) and "#wechat_redirect" in authorize
    assert parse_qs(urlparse(authorize).query)["scope"] == ["snsapi_base"]
    back = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    assert callback.path == "/m/wechat/callback/"
    return client.get(f"{callback.path}?{callback.query}")


def test_wechat_is_offered_only_when_configured(client, settings):
    settings.WECHAT_APP_ID = ""
    assert "/m/wechat/" not in client.get("/m/login/").content.decode()
    assert client.get("/m/wechat/").status_code == 404
    assert client.get("/m/wechat/callback/?code=x&state=y").status_code == 404


def test_a_bound_openid_signs_in(client, wechat):
    member = factories.member(phone=PHONE)
    Member.objects.filter(pk=member.pk).update(wechat_openid=wechat.oauth_openid)
    assert "/m/wechat/" in client.get("/m/login/").content.decode()
    answer = through_wechat(client, wechat)
    assert answer.status_code == 302 and answer["Location"] == "/m/points/"
    assert member_for_token(answer.cookies[COOKIE].value) == member
    assert MemberSession.objects.get(member=member).source == MemberSession.Source.WECHAT


def test_an_unknown_openid_is_bound_after_one_sign_in_by_phone(client, wechat):
    member = factories.member(phone=PHONE)
    answer = through_wechat(client, wechat)
    assert answer.status_code == 302 and answer["Location"].startswith("/m/login/")
    assert COOKIE not in answer.cookies
    client.post("/m/login/", {"action": "send", "phone": PHONE})
    client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": last_code()})
    member.refresh_from_db()
    assert member.wechat_openid == wechat.oauth_openid
    # Next time WeChat alone signs in.
    client.cookies.clear()
    again = through_wechat(client, wechat)
    assert member_for_token(again.cookies[COOKIE].value) == member


def test_an_openid_of_another_member_is_not_moved(client, wechat):
    first = factories.member(phone="13800138001")
    Member.objects.filter(pk=first.pk).update(wechat_openid="o-taken")
    second = factories.member(phone=PHONE)
    from django.core.exceptions import ValidationError

    from members.services import bind_wechat_openid

    with pytest.raises(ValidationError) as refused:
        bind_wechat_openid(second, "o-taken")
    assert refused.value.error_dict["wechat_openid"][0].code == "wechat_openid_taken"
    assert Member.objects.get(pk=first.pk).wechat_openid == "o-taken"


def test_a_forged_state_or_a_bad_code_is_refused(client, wechat):
    assert client.get("/m/wechat/callback/?code=abc&state=forged").status_code == 400
    state = wechat_oauth.make_state(next_url="/m/")
    answer = client.get(f"/m/wechat/callback/?code=never-issued&state={state}")
    assert answer.status_code == 302 and answer["Location"] == "/m/login/"
    assert COOKIE not in answer.cookies


def test_the_client_talks_to_the_fake(wechat):
    url = wechat_oauth.authorize_url(redirect_uri="http://testserver/m/wechat/callback/", state="s")
    back = requests.get(url.split("#")[0], allow_redirects=False, timeout=5)
    code = parse_qs(urlparse(back.headers["Location"]).query)["code"][0]
    assert wechat_oauth.openid_for_code(code) == wechat.oauth_openid
    with pytest.raises(wechat_oauth.WeChatOAuthError):
        wechat_oauth.openid_for_code(code)  # a code works once
