"""The member API's sign-in (`/api/v1/me/otp/`, `session/`, `join/`, `terms/`) and the separation of
member and staff sessions."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from loyalty_crm.centre.session import member_for_token, start_session
from members.models import ConsentTopic, Member, TermsAcceptance
from members.services import accept_terms, consent_state
from tests.members import factories
from tests.members.centre_helpers import PHONE, last_code, published, sms_count

pytestmark = pytest.mark.django_db
COOKIE = settings.MEMBER_SESSION_COOKIE_NAME


def member_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Member {token}")
    return client


def test_otp_then_session_gives_a_member_token(api_anon):
    member = factories.member(phone=PHONE, name="王小明")
    sent = api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    assert sent.status_code == 202 and sent.json() == {"sent": True, "retry_after": 60}
    answer = api_anon.post("/api/v1/me/session/", {"phone": PHONE, "code": last_code()}, format="json")
    assert answer.status_code == 201
    body = answer.json()
    assert body["member"] == {"member_no": member.member_no, "name": "王小明"}
    assert member_for_token(body["token"]) == member
    assert body["expires_at"]


def test_otp_answers_the_same_for_a_stranger(api_anon):
    factories.member(phone="13800138001")
    member_answer = api_anon.post("/api/v1/me/otp/", {"phone": "13800138001"}, format="json")
    stranger_answer = api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    assert member_answer.status_code == stranger_answer.status_code == 202
    assert member_answer.json() == stranger_answer.json()


def test_otp_limit_is_429_with_code_and_retry_after(api_anon):
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    again = api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    assert again.status_code == 429
    assert again.json()["code"] == "otp_too_soon"
    assert 0 < int(again["Retry-After"]) <= 60
    assert sms_count() == 1


def test_otp_with_a_malformed_phone_is_400_naming_the_field(api_anon):
    answer = api_anon.post("/api/v1/me/otp/", {"phone": "abc"}, format="json")
    assert answer.status_code == 400 and "phone" in answer.json()


def test_a_wrong_code_is_otp_invalid(api_anon):
    factories.member(phone=PHONE)
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    wrong = f"{(int(last_code()) + 1) % 1_000_000:06d}"
    answer = api_anon.post("/api/v1/me/session/", {"phone": PHONE, "code": wrong}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "otp_invalid"


def test_a_proved_phone_that_is_no_member_is_409_not_a_member(api_anon):
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    answer = api_anon.post("/api/v1/me/session/", {"phone": PHONE, "code": last_code()}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "not_a_member"
    assert "join" in answer.json()["detail"]


def test_join_creates_the_member_accepts_terms_and_gives_a_session(api_anon):
    terms, privacy = published("terms"), published("privacy")
    store = factories.store("sh-009")
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    answer = api_anon.post(
        "/api/v1/me/join/",
        {
            "phone": PHONE,
            "code": last_code(),
            "name": "李小花",
            "accept_terms": True,
            "consents": {"marketing_wechat": True},
            "store": "sh-009",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    member = Member.objects.with_phone(PHONE).get()
    assert member_for_token(answer.json()["token"]) == member
    assert member.home_store == store and member.source_channel == Member.SourceChannel.QR_STORE
    state = consent_state(member)
    assert state[ConsentTopic.MARKETING_WECHAT] and not state[ConsentTopic.MARKETING_SMS]
    assert set(TermsAcceptance.objects.filter(member=member).values_list("version", "source")) == {
        (terms.pk, "api"),
        (privacy.pk, "api"),
    }


def test_join_without_accepting_terms_is_400(api_anon):
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    answer = api_anon.post(
        "/api/v1/me/join/", {"phone": PHONE, "code": last_code(), "name": "李", "accept_terms": False}, format="json"
    )
    assert answer.status_code == 400 and "accept_terms" in answer.json()
    assert not Member.objects.exists()


def test_join_with_a_members_phone_signs_in_never_duplicates(api_anon):
    member = factories.member(phone=PHONE)
    api_anon.post("/api/v1/me/otp/", {"phone": PHONE}, format="json")
    answer = api_anon.post(
        "/api/v1/me/join/", {"phone": PHONE, "code": last_code(), "name": "X", "accept_terms": True}, format="json"
    )
    assert answer.status_code == 200 and member_for_token(answer.json()["token"]) == member
    assert Member.objects.count() == 1


def test_delete_session_ends_it(api_anon):
    member = factories.member(phone=PHONE)
    token = start_session(member)
    client = member_client(token)
    assert client.delete("/api/v1/me/session/").status_code == 204
    assert member_for_token(token) is None
    assert client.delete("/api/v1/me/session/").status_code == 401


def test_new_terms_are_403_terms_not_accepted_until_accepted():
    member = factories.member(phone=PHONE)
    client = member_client(start_session(member))
    assert client.get("/api/v1/me/terms/").json() == {"pending": []}
    new = published("privacy", "2.0")
    pending = client.get("/api/v1/me/terms/").json()["pending"]
    assert [row["id"] for row in pending] == [new.pk]
    # A member-only view that is not exempt (the IsMember check) refuses with the versions to accept.
    from rest_framework.test import APIRequestFactory

    from loyalty_crm.centre.session import IsMember, MemberAuthentication, MemberPrincipal  # noqa: F401

    view = type("V", (), {})()
    request = APIRequestFactory().get("/api/v1/me/")
    request.user = MemberPrincipal(member)
    from rest_framework.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied) as refused:
        IsMember().has_permission(request, view)
    assert refused.value.detail["code"] == "terms_not_accepted"
    assert refused.value.detail["versions"][0]["id"] == new.pk
    assert client.post("/api/v1/me/terms/", {"versions": [new.pk]}, format="json").json() == {"pending": []}
    assert IsMember().has_permission(request, view) is True
    assert TermsAcceptance.objects.get(member=member, version=new).source == "api"


def test_accepting_an_old_version_is_409_terms_not_current():
    member = factories.member(phone=PHONE)
    old = published("terms", "1.0")
    published("terms", "2.0")
    accept_terms(member=member, versions=[])
    answer = member_client(start_session(member)).post("/api/v1/me/terms/", {"versions": [old.pk]}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "terms_not_current"


# --- member and staff sessions are apart -----------------------------------------------------


def test_a_staff_token_is_refused_on_member_endpoints(api_manager):
    assert api_manager.get("/api/v1/me/terms/").status_code in (401, 403)
    assert api_manager.delete("/api/v1/me/session/").status_code in (401, 403)


def test_a_member_token_is_refused_on_staff_endpoints():
    member = factories.member(phone=PHONE)
    client = member_client(start_session(member))
    assert client.get("/api/v1/members/").status_code in (401, 403)
    assert client.get(f"/api/v1/members/{member.member_no}/").status_code in (401, 403)


def test_the_member_cookie_does_not_open_the_admin():
    member = factories.member(phone=PHONE)
    client = Client()
    client.cookies[COOKIE] = start_session(member)
    answer = client.get("/admin/")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


def test_a_member_session_ends_after_idle_time(settings):
    member = factories.member(phone=PHONE)
    start = datetime.datetime(2026, 6, 1, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        token = start_session(member)
        client = member_client(token)
        assert client.get("/api/v1/me/terms/").status_code == 200
        traveller.shift(datetime.timedelta(seconds=settings.MEMBER_SESSION_IDLE_SECONDS + 1))
        assert client.get("/api/v1/me/terms/").status_code == 401
        pages = Client()
        pages.cookies[COOKIE] = token
        assert "/m/login/" in pages.get("/m/terms/")["Location"]


def test_the_sign_in_endpoints_are_throttled_per_address(settings, api_anon):
    settings.MEMBER_SIGN_IN_THROTTLE_RATE = "3/hour"
    for _n in range(3):
        api_anon.post("/api/v1/me/session/", {"phone": PHONE, "code": "000000"}, format="json")
    answer = api_anon.post("/api/v1/me/session/", {"phone": PHONE, "code": "000000"}, format="json")
    assert answer.status_code == 429 and "Retry-After" in answer
