"""The member centre's profile, preferences, consents and privacy pages (/m/profile/…)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from members import services
from members.models import AccountClosureRequest, ConsentEvent, ConsentSource, Interaction, Member, MemberSession
from members.summaries import Summary
from tests.members import factories
from tests.members.centre_helpers import member_client

pytestmark = pytest.mark.django_db

PAGE_BUDGET = 100 * 1024  # HTML + CSS + JS of one page


@pytest.fixture
def member():
    return factories.member(name="王小明", phone="13800138000", consents={"marketing_sms": True})


@pytest.fixture
def client_of(member):
    return member_client(member)


def _page_weight(response) -> int:
    from django.contrib.staticfiles import finders

    css = finders.find("centre/centre.css")
    with open(css, "rb") as handle:
        return len(response.content) + len(handle.read())


# --- profile ---------------------------------------------------------------------------------


def test_profile_shows_the_name_and_the_phone_masked_in_chinese(client_of):
    response = client_of.get("/m/profile/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "王小明" in html and "138****8000" in html
    assert "13800138000" not in html
    assert 'lang="zh-hans"' in html and "会员编号" in html  # "Member number", zh-hans for a Chinese browser


def test_profile_page_links_to_every_profile_page_and_signs_out_by_post(client_of):
    html = client_of.get("/m/profile/").content.decode()

    linked = ("/m/profile/preferences/", "/m/profile/consents/", "/m/purchases/", "/m/feedback/", "/m/profile/privacy/")
    for url in linked:
        assert f'href="{url}"' in html
    assert 'action="/m/logout/"' in html and "csrfmiddlewaretoken" in html


def test_profile_change_goes_through_the_service_and_the_history_names_the_member_centre(client_of, member):
    response = client_of.post(
        "/m/profile/", {"name": "王晓明", "email": "wang@example.com", "gender": "female", "birthday": "1990-05-20"}
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.name, member.email, member.gender, member.birthday) == (
        "王晓明",
        "wang@example.com",
        "female",
        datetime.date(1990, 5, 20),
    )
    latest = member.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == services.MEMBER_CENTRE_REASON
    assert latest.history_user is None


def test_birthday_is_set_once_then_only_staff_change_it(client_of, member):
    services.update_member(member=member, birthday=datetime.date(1990, 5, 20))

    html = client_of.get("/m/profile/").content.decode()
    client_of.post("/m/profile/", {"name": "王小明", "email": "", "gender": "unknown", "birthday": "2000-01-01"})

    assert 'name="birthday"' not in html
    member.refresh_from_db()
    assert member.birthday == datetime.date(1990, 5, 20)


def test_the_phone_cannot_be_changed_by_the_member(client_of, member):
    client_of.post("/m/profile/", {"name": "王小明", "gender": "unknown", "phone": "13900000000"})

    member.refresh_from_db()
    assert member.phone == "+8613800138000"


def test_an_empty_name_is_refused_with_a_message_and_nothing_changes(client_of, member):
    response = client_of.post("/m/profile/", {"name": "  ", "gender": "unknown"})

    assert response.status_code == 400
    member.refresh_from_db()
    assert member.name == "王小明"


def test_a_bad_email_is_refused_naming_the_field(client_of):
    response = client_of.post("/m/profile/", {"name": "王小明", "email": "not-an-email", "gender": "unknown"})

    assert response.status_code == 400
    assert 'class="mc-error"' in response.content.decode()


def test_profile_forms_carry_csrf_and_refuse_a_post_without_it(member):
    from django.conf import settings
    from django.test import Client

    from loyalty_crm.centre.session import start_session

    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.MEMBER_SESSION_COOKIE_NAME] = start_session(member)
    for url in ("/m/profile/", "/m/profile/preferences/", "/m/profile/consents/", "/m/profile/privacy/export/"):
        assert client.post(url, {"name": "x"}).status_code == 403


def _needs_sign_in_page():
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("centre:login")
    except NoReverseMatch:
        pytest.skip("the sign-in page (centre:login) comes with the sign-in work")


def test_staff_session_alone_does_not_open_the_profile(manager):
    from django.test import Client

    _needs_sign_in_page()
    client = Client()
    client.force_login(manager)
    response = client.get("/m/profile/")

    assert response.status_code == 302


# --- preferences -----------------------------------------------------------------------------


def test_preferences_are_saved_through_the_services_and_replace_the_old_ones(client_of, member):
    roses = factories.category("roses", "玫瑰")
    lilies = factories.category("lilies", "百合")
    services.add_preference(member=member, kind="colour", value="黄色")

    response = client_of.post(
        "/m/profile/preferences/",
        {
            "categories": [roses.pk, lilies.pk],
            "colours": "红色，白色",
            "styles": "简约",
            "channel": "微信",
            "contact_time": "周末上午",
        },
    )

    assert response.status_code == 302
    got = sorted(member.preferences.values_list("kind", "value", "category__code"))
    assert got == [
        ("colour", "白色", None),
        ("colour", "红色", None),
        ("contact_time", "周末上午", None),
        ("favourite_category", "", "lilies"),
        ("favourite_category", "", "roses"),
        ("preferred_channel", "微信", None),
        ("style", "简约", None),
    ]


def test_preferences_page_shows_what_is_saved(client_of, member):
    roses = factories.category("roses", "玫瑰")
    services.add_preference(member=member, kind="favourite_category", category=roses)
    services.add_preference(member=member, kind="colour", value="粉色")

    html = client_of.get("/m/profile/preferences/").content.decode()

    assert f'value="{roses.pk}"' in html and "checked" in html
    assert "粉色" in html


def test_a_channel_that_is_not_offered_is_refused(client_of, member):
    response = client_of.post("/m/profile/preferences/", {"channel": "carrier pigeon"})

    assert response.status_code == 400
    assert not member.preferences.exists()


# --- consents --------------------------------------------------------------------------------


def test_consents_page_shows_each_channel_and_when_it_was_granted(client_of):
    html = client_of.get("/m/profile/consents/").content.decode()

    assert 'data-topic="marketing_sms"' in html and 'data-topic="marketing_email"' in html
    assert 'data-topic="marketing_wechat"' in html
    assert timezone.localdate().strftime("%Y-%m-%d") in html


def test_withdrawing_sms_consent_takes_effect_at_once_with_the_member_centre_as_source(client_of, member):
    from members.selectors import members_with_marketing_consent

    response = client_of.post("/m/profile/consents/", {"topic": "marketing_sms", "granted": "0"}, follow=True)

    assert not members_with_marketing_consent(Member.objects.filter(pk=member.pk), "sms").exists()
    event = ConsentEvent.objects.filter(member=member).order_by("-id").first()
    assert (event.topic, event.granted, event.source, event.actor) == (
        "marketing_sms",
        False,
        ConsentSource.MEMBER_CENTRE,
        None,
    )
    assert response.content.decode().count('id="consent-history"') == 1
    html = response.content.decode()
    assert str(ConsentSource.MEMBER_CENTRE.label) in html or "会员中心" in html


def test_granting_email_consent_is_recorded(client_of, member):
    client_of.post("/m/profile/consents/", {"topic": "marketing_email", "granted": "1"})

    assert services.consent_state(member)["marketing_email"] is True


@pytest.mark.parametrize(
    "data", [{"topic": "data_processing", "granted": "0"}, {"topic": "marketing_sms", "granted": "x"}]
)
def test_consent_changes_outside_the_marketing_channels_are_refused(client_of, member, data):
    client_of.post("/m/profile/consents/", data)

    assert services.consent_state(member)["marketing_sms"] is True
    assert ConsentEvent.objects.filter(member=member).count() == 1


# --- privacy ---------------------------------------------------------------------------------


def test_download_my_data_is_an_attachment_with_the_member_number_and_is_recorded(client_of, member):
    response = client_of.post("/m/profile/privacy/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "13800138000" not in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["member_no"] == member.member_no and data["name"] == "王小明"
    record = Interaction.objects.get(member=member)
    assert record.summary_code == Summary.DATA_EXPORT


def test_download_my_data_is_a_post_not_a_link(client_of):
    assert client_of.get("/m/profile/privacy/export/").status_code == 405


def test_asking_to_close_the_account_shows_it_pending_and_it_can_be_withdrawn(client_of, member):
    client_of.post("/m/profile/privacy/close/", {"reason": "搬家了"})

    request = AccountClosureRequest.objects.get(member=member)
    assert request.status == "requested" and request.reason == "搬家了"
    html = client_of.get("/m/profile/privacy/").content.decode()
    assert 'action="/m/profile/privacy/close/withdraw/"' in html

    client_of.post("/m/profile/privacy/close/withdraw/")

    request.refresh_from_db()
    assert request.status == "withdrawn"


def test_asking_twice_keeps_one_open_request(client_of, member):
    client_of.post("/m/profile/privacy/close/", {})
    client_of.post("/m/profile/privacy/close/", {})

    assert AccountClosureRequest.objects.filter(member=member).count() == 1


def test_staff_confirm_erases_the_member_and_ends_every_session(client_of, member, manager):
    request = services.request_account_closure(member=member)

    services.confirm_account_closure(request=request, actor=manager)

    member.refresh_from_db()
    assert member.status == Member.Status.ERASED and member.name == services.ERASED_NAME
    assert not MemberSession.objects.filter(member=member, ended_at__isnull=True).exists()
    from django.conf import settings

    from loyalty_crm.centre.session import member_for_token

    assert member_for_token(client_of.cookies[settings.MEMBER_SESSION_COOKIE_NAME].value) is None
    request.refresh_from_db()
    assert (request.status, request.handled_by) == ("confirmed", manager)


def test_a_withdrawn_request_can_no_longer_be_confirmed(member, manager):
    request = services.request_account_closure(member=member)
    services.withdraw_account_closure(member=member, request=request)

    with pytest.raises(services.ClosureNotOpen):
        services.confirm_account_closure(request=request, actor=manager)

    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


def test_a_refusal_needs_a_note_and_the_member_sees_it(client_of, member, manager):
    from django.core.exceptions import ValidationError

    request = services.request_account_closure(member=member)
    with pytest.raises(ValidationError):
        services.refuse_account_closure(request=request, actor=manager, note=" ")
    services.refuse_account_closure(request=request, actor=manager, note="您还有未完成的订单")

    html = client_of.get("/m/profile/privacy/").content.decode()
    assert "您还有未完成的订单" in html


def test_a_member_cannot_withdraw_another_members_request(member):
    other = factories.member(name="李四")
    request = services.request_account_closure(member=other)

    with pytest.raises(services.ClosureNotOpen):
        services.withdraw_account_closure(member=member, request=request)


# --- quality: queries and weight -------------------------------------------------------------

PAGES = ["/m/profile/", "/m/profile/preferences/", "/m/profile/consents/", "/m/profile/privacy/"]


def _fill(member, n: int) -> None:
    for index in range(n):
        factories.category(f"cat-{index}", f"花{index}")
        services.add_preference(member=member, kind="colour", value=f"色{index}")
        services.set_consents(member=member, consents={"marketing_email": index % 2 == 0})
    services.request_account_closure(member=member)


@pytest.mark.parametrize("url", PAGES)
def test_each_page_runs_the_same_number_of_queries_for_little_and_much_history(url, member, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = member_client(member)
    client.get(url)  # warm the session's touch and the language
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    _fill(member, 12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200

    assert len(many) == len(few)
    assert len(many) <= 8


@pytest.mark.parametrize("url", PAGES)
def test_each_page_is_under_100_kb_with_its_stylesheet(url, client_of, member):
    _fill(member, 12)

    assert _page_weight(client_of.get(url)) < PAGE_BUDGET


@pytest.mark.parametrize("url", PAGES)
def test_pages_speak_english_to_an_english_browser(url, member):
    html = member_client(member, language="en").get(url).content.decode()

    assert 'lang="en"' in html


def test_my_data_holds_the_terms_accepted_and_the_requests_to_close_the_account(client_of, member):
    from members.models import TermsVersion

    draft = TermsVersion.objects.create(kind=TermsVersion.Kind.TERMS, version="2026-12", title="会员条款", text="正文")
    services.accept_terms(member=member, versions=[services.publish_terms_version(version=draft)])
    client_of.post("/m/profile/privacy/close/", {"reason": "搬家了"})
    client_of.post("/m/profile/privacy/close/withdraw/")

    data = json.loads(client_of.post("/m/profile/privacy/export/").content)

    assert [(r["reason"], r["status"]) for r in data["closure_requests"]] == [("搬家了", "withdrawn")]
    accepted = member.terms_acceptances.get()
    assert data["terms_accepted"] == [
        {"kind": "terms", "version": "2026-12", "at": accepted.accepted_at.isoformat(), "source": accepted.source}
    ]
