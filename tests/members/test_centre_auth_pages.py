"""The member centre's sign-in, join, terms and sign-out pages (loyalty_crm.centre.auth), through the client."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from loyalty_crm.centre.session import member_for_token, start_session
from members.models import ConsentEvent, ConsentSource, ConsentTopic, Member, Purchase, TermsAcceptance
from members.services import consent_state, record_purchase
from members.services.purchases import PurchaseLine
from rewards.models import LedgerEntry
from rewards.services import walkin
from rewards.services.purchases import post_purchase
from tests.members import factories
from tests.members.centre_helpers import PHONE, last_code, published, sms_count

pytestmark = pytest.mark.django_db
COOKIE = settings.MEMBER_SESSION_COOKIE_NAME


@pytest.fixture
def terms_and_privacy():
    return published("terms", "2026-01"), published("privacy", "2026-01")


def signed_in_member(response) -> Member | None:
    morsel = response.cookies.get(COOKIE)
    return member_for_token(morsel.value) if morsel and morsel.value else None


def join_post(client, **extra):
    data = {
        "action": "join",
        "phone": PHONE,
        "code": last_code(),
        "name": "李小花",
        "accept_terms": "on",
        **extra,
    }
    return client.post("/m/join/", data)


# --- sign in ---------------------------------------------------------------------------------


def test_sign_in_by_phone_and_code_then_go_to_next(client):
    member = factories.member(phone=PHONE)
    page = client.get("/m/login/?next=/m/points/")
    assert page.status_code == 200 and b'name="phone"' in page.content
    sent = client.post("/m/login/", {"action": "send", "phone": PHONE, "next": "/m/points/"})
    assert sent.status_code == 200 and b'name="code"' in sent.content
    done = client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": last_code(), "next": "/m/points/"})
    assert done.status_code == 302 and done["Location"] == "/m/points/"
    assert signed_in_member(done) == member
    assert done.cookies[COOKIE]["httponly"] and done.cookies[COOKIE]["path"] == "/m/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/m/", "/admin/", "/m/\\evil"])
def test_next_must_be_a_member_centre_page(client, next_url):
    factories.member(phone=PHONE)
    client.post("/m/login/", {"action": "send", "phone": PHONE})
    done = client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": last_code(), "next": next_url})
    assert done["Location"] == "/m/"


def test_a_wrong_code_is_refused_and_no_session_starts(client):
    factories.member(phone=PHONE)
    client.post("/m/login/", {"action": "send", "phone": PHONE})
    wrong = f"{(int(last_code()) + 1) % 1_000_000:06d}"
    answer = client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": wrong})
    assert answer.status_code == 400
    assert "wrong or has expired" in answer.content.decode()
    assert COOKIE not in answer.cookies


def test_a_malformed_phone_gets_a_400_naming_it(client):
    answer = client.post("/m/login/", {"action": "send", "phone": "12ab"})
    assert answer.status_code == 400 and "12ab" in answer.content.decode()


def test_asking_again_within_a_minute_is_refused_with_429(client):
    client.post("/m/login/", {"action": "send", "phone": PHONE})
    again = client.post("/m/login/", {"action": "send", "phone": PHONE})
    assert again.status_code == 429
    assert sms_count() == 1


def test_the_code_is_sent_whether_or_not_the_phone_is_a_member(client):
    """The answer to "send code" is the same for a stranger's phone: it tells nothing."""
    factories.member(phone="13800138001")
    member_answer = client.post("/m/login/", {"action": "send", "phone": "13800138001"})
    stranger_answer = client.post("/m/login/", {"action": "send", "phone": PHONE})
    assert member_answer.status_code == stranger_answer.status_code == 200
    strip = lambda page: page.content.decode().replace("13800138001", "").replace("+86" + PHONE, "")  # noqa: E731
    assert len(strip(member_answer)) == pytest.approx(len(strip(stranger_answer)), abs=80)


def test_a_phone_with_no_member_is_offered_to_join_after_the_code(client, terms_and_privacy):
    client.post("/m/login/", {"action": "send", "phone": PHONE})
    answer = client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": last_code()})
    assert answer.status_code == 200
    assert 'value="start"' in answer.content.decode() and COOKIE not in answer.cookies
    # The join form that follows needs no second code.
    verified = answer.context["verified"]
    form = client.post("/m/join/", {"action": "start", "verified": verified})
    assert form.status_code == 200 and 'name="code"' not in form.content.decode()
    done = client.post(
        "/m/join/", {"action": "join", "verified": verified, "phone": PHONE, "name": "新会员", "accept_terms": "on"}
    )
    assert done.status_code == 302
    assert Member.objects.with_phone(PHONE).get().name == "新会员"
    assert sms_count() == 1


def test_a_forged_verified_token_is_not_believed(client, terms_and_privacy):
    answer = client.post(
        "/m/join/",
        {"action": "join", "verified": "forged", "phone": PHONE, "name": "X", "accept_terms": "on"},
    )
    assert answer.status_code == 400 and not Member.objects.exists()


# --- join ------------------------------------------------------------------------------------


def test_join_by_store_qr_creates_the_member_with_store_channel_consents_and_terms(client, terms_and_privacy):
    store = factories.store("sh-009", "上海静安店")
    page = client.get("/m/join/?store=sh-009")
    assert page.status_code == 200 and "上海静安店" in page.content.decode()
    sent = client.post("/m/join/", {"action": "send", "phone": PHONE, "store": "sh-009", "name": "李小花"})
    assert sent.status_code == 200 and "李小花" in sent.content.decode()  # what was typed is kept
    done = join_post(client, store="sh-009", marketing_sms="on", email="li@example.com", birthday="1990-05-06")
    assert done.status_code == 302 and done["Location"] == "/m/"
    member = Member.objects.with_phone(PHONE).get()
    assert signed_in_member(done) == member
    assert member.home_store == store
    assert member.source_channel == Member.SourceChannel.QR_STORE
    assert member.email == "li@example.com" and member.birthday == datetime.date(1990, 5, 6)
    state = consent_state(member)
    assert state[ConsentTopic.MARKETING_SMS] is True
    assert not state[ConsentTopic.MARKETING_EMAIL] and not state[ConsentTopic.MARKETING_WECHAT]
    assert set(ConsentEvent.objects.filter(member=member).values_list("source", flat=True)) == {
        ConsentSource.MEMBER_CENTRE
    }
    accepted = TermsAcceptance.objects.filter(member=member)
    assert {a.version_id for a in accepted} == {v.pk for v in terms_and_privacy}
    assert all(a.source == "web" and a.client_hash and "127.0.0.1" not in a.client_hash for a in accepted)


def test_join_requires_the_terms(client, terms_and_privacy):
    client.post("/m/join/", {"action": "send", "phone": PHONE})
    answer = client.post("/m/join/", {"action": "join", "phone": PHONE, "code": last_code(), "name": "李"})
    assert answer.status_code == 400 and not Member.objects.exists()
    assert "Accept the terms" in answer.content.decode()


def test_marketing_consents_are_unticked_by_default(client, terms_and_privacy):
    page = client.get("/m/join/").content.decode()
    for topic in ("marketing_sms", "marketing_email", "marketing_wechat"):
        tag = page[page.index(f'name="{topic}"') - 40 : page.index(f'name="{topic}"') + 60]
        assert "checked" not in tag


def test_an_existing_members_phone_signs_in_instead_of_joining(client, terms_and_privacy):
    member = factories.member(phone=PHONE)
    answer = client.post("/m/join/", {"action": "send", "phone": PHONE, "name": "Someone"})
    assert answer.status_code == 200
    assert "already a member" in answer.content.decode()
    assert 'value="verify"' in answer.content.decode()  # the sign-in code step
    done = client.post("/m/login/", {"action": "verify", "phone": PHONE, "code": last_code()})
    assert signed_in_member(done) == member
    assert Member.objects.count() == 1


def test_joining_with_a_phone_taken_meanwhile_signs_in_never_duplicates(client, terms_and_privacy):
    client.post("/m/join/", {"action": "send", "phone": PHONE})
    member = factories.member(phone=PHONE)  # joined in another tab
    done = join_post(client)
    assert done.status_code == 302 and signed_in_member(done) == member
    assert Member.objects.count() == 1


def test_an_unknown_store_code_joins_without_a_store(client, terms_and_privacy):
    assert client.get("/m/join/?store=nope").status_code == 200
    client.post("/m/join/", {"action": "send", "phone": PHONE})
    join_post(client, store="nope")
    assert Member.objects.get().home_store is None


# --- a walk-in receipt's join link -----------------------------------------------------------


def walk_in_sale(total: str = "128.00", *, days_ago: int = 1) -> Purchase:
    store = factories.store()
    result = post_purchase(
        member=None,
        external_ref=f"WALKIN-{total}-{days_ago}",
        ordered_at=timezone.now() - datetime.timedelta(days=days_ago),
        items=[PurchaseLine(sku=factories.product().sku, quantity=1, unit_price=Decimal(total))],
        store=store,
    )
    return result.purchase


def test_joining_from_a_receipt_credits_its_purchase_once(client, terms_and_privacy):
    purchase = walk_in_sale("128.00")
    token = walkin.join_token(purchase)
    page = client.get(f"/m/join/?receipt={token}")
    assert page.status_code == 200 and "credited" in page.content.decode()
    client.post("/m/join/", {"action": "send", "phone": PHONE, "receipt": token})
    done = join_post(client, receipt=token)
    member = Member.objects.with_phone(PHONE).get()
    purchase.refresh_from_db()
    assert purchase.member == member
    assert member.home_store_id == purchase.store_id
    entry = LedgerEntry.objects.get(member=member, purchase=purchase)
    assert entry.points == 128
    shown = [str(m) for m in client.get("/m/terms/terms/").context["messages"]]
    assert any("128.00" in text and "+128" in text for text in shown)
    assert done.status_code == 302
    # The same link again: nothing more.
    again = walkin.credit_walk_in_purchase(member=member, token=token)
    assert again.created is False and again.points_earned == 128
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1


def test_a_receipt_credited_to_someone_else_is_refused(terms_and_privacy):
    from rewards.errors import JoinTokenInvalid

    purchase = walk_in_sale()
    token = walkin.join_token(purchase)
    first = factories.member(phone="13800138001")
    walkin.credit_walk_in_purchase(member=first, token=token)
    with pytest.raises(JoinTokenInvalid) as refused:
        walkin.credit_walk_in_purchase(member=factories.member(phone="13800138002"), token=token)
    assert refused.value.reason == "credited"


def test_an_expired_or_forged_receipt_link_is_explained_and_joining_still_works(client, terms_and_privacy):
    purchase = walk_in_sale()
    with time_machine.travel(timezone.now() - datetime.timedelta(days=8)):
        old = walkin.join_token(purchase)
    page = client.get(f"/m/join/?receipt={old}")
    assert "expired" in page.content.decode()
    page = client.get("/m/join/?receipt=forged:token")
    assert "not valid" in page.content.decode()
    client.post("/m/join/", {"action": "send", "phone": PHONE, "receipt": old})
    join_post(client, receipt=old)
    member = Member.objects.get()
    purchase.refresh_from_db()
    assert purchase.member is None and not LedgerEntry.objects.filter(member=member, kind="earn").exists()


def test_a_signed_in_member_scanning_a_receipt_is_credited(client):
    member = factories.member(phone=PHONE)
    purchase = walk_in_sale("50.00")
    client.cookies[COOKIE] = start_session(member)
    answer = client.get(f"/m/join/?receipt={walkin.join_token(purchase)}")
    assert answer.status_code == 302
    purchase.refresh_from_db()
    assert purchase.member == member


def test_a_credited_receipt_can_be_refunded_and_reverses_its_points():
    from rewards.services import refund_purchase

    purchase = walk_in_sale("100.00")
    member = factories.member(phone=PHONE)
    walkin.credit_walk_in_purchase(member=member, token=walkin.join_token(purchase))
    result = refund_purchase(purchase=purchase, external_ref="REF-1")
    assert result.points_reversed == 100


def test_a_members_own_purchase_has_no_join_link():
    member = factories.member(phone=PHONE)
    purchase = record_purchase(
        member=member,
        external_ref="M-1",
        ordered_at=timezone.now(),
        items=[PurchaseLine(sku=factories.product().sku, quantity=1, unit_price=Decimal("10"))],
    )
    with pytest.raises(ValueError):
        walkin.join_token(purchase)


# --- terms -----------------------------------------------------------------------------------


def test_a_new_version_sends_a_signed_in_member_to_accept_it(client, terms_and_privacy):
    from loyalty_crm.centre.auth import terms_text  # noqa: F401 (the page exists)
    from members.services import accept_terms

    member = factories.member(phone=PHONE)
    accept_terms(member=member, versions=terms_and_privacy)
    client.cookies[COOKIE] = start_session(member)
    assert client.get("/m/terms/").status_code == 302  # nothing to accept
    new = published("terms", "2026-12", title="会员条款（新版）")
    page = client.get("/m/terms/?next=/m/points/")
    assert page.status_code == 200 and "会员条款（新版）" in page.content.decode()
    refused = client.post("/m/terms/", {"version": [new.pk], "next": "/m/points/"})
    assert refused.status_code == 200 and not TermsAcceptance.objects.filter(version=new).exists()
    done = client.post("/m/terms/", {"version": [new.pk], "accept": "1", "next": "/m/points/"})
    assert done.status_code == 302 and done["Location"] == "/m/points/"
    assert TermsAcceptance.objects.get(version=new, member=member).source == "web"


def test_member_required_sends_to_terms_first():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from loyalty_crm.centre.session import member_required

    @member_required
    def page(request):
        return HttpResponse("ok")

    member = factories.member(phone=PHONE)
    request = RequestFactory().get("/m/points/")
    request.COOKIES[COOKIE] = start_session(member)
    assert page(request).status_code == 200  # no terms published: nothing to accept
    published("privacy", "9")
    request = RequestFactory().get("/m/points/")
    request.COOKIES[COOKIE] = start_session(member)
    answer = page(request)
    assert answer.status_code == 302 and answer["Location"].startswith("/m/terms/?next=")


def test_the_current_terms_can_be_read_before_joining(client, terms_and_privacy):
    page = client.get("/m/terms/terms/")
    assert page.status_code == 200 and "会员条款 2026-01 正文" in page.content.decode()
    assert client.get("/m/terms/other/").status_code == 404


# --- sign out and CSRF -----------------------------------------------------------------------


def test_sign_out_ends_the_session_server_side(client):
    member = factories.member(phone=PHONE)
    token = start_session(member)
    client.cookies[COOKIE] = token
    assert client.get("/m/logout/").status_code == 200
    answer = client.post("/m/logout/")
    assert answer.status_code == 302 and answer.cookies[COOKIE].value == ""
    assert member_for_token(token) is None
    old = Client()
    old.cookies[COOKIE] = token
    assert old.get("/m/terms/").status_code == 302 and "/m/login/" in old.get("/m/terms/")["Location"]


@pytest.mark.parametrize(
    "path,data",
    [
        ("/m/login/", {"action": "send", "phone": PHONE}),
        ("/m/join/", {"action": "send", "phone": PHONE}),
        ("/m/logout/", {}),
        ("/m/terms/", {"accept": "1"}),
    ],
)
def test_every_form_needs_the_csrf_token(path, data):
    client = Client(enforce_csrf_checks=True)
    assert client.post(path, data).status_code == 403
    assert sms_count() == 0


def test_the_forms_carry_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/m/login/")
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    answer = client.post("/m/login/", {"action": "send", "phone": PHONE, "csrfmiddlewaretoken": token})
    assert answer.status_code == 200 and sms_count() == 1


def test_the_sign_in_and_join_pages_run_a_fixed_number_of_queries(client, terms_and_privacy, django_assert_num_queries):
    factories.store("sh-009")
    with django_assert_num_queries(0):
        client.get("/m/login/")
    with django_assert_num_queries(2):  # the store, the current terms
        client.get("/m/join/?store=sh-009")
    member = factories.member(phone=PHONE)
    from members.services import accept_terms

    accept_terms(member=member, versions=terms_and_privacy)
    client.cookies[COOKIE] = start_session(member)
    with django_assert_num_queries(2):  # the session with its member, the terms still to accept
        assert client.get("/m/terms/").status_code == 302
