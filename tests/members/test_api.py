"""The members REST API (docs/api.md "Members"): every path, every status code, roles and query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members import masking, services
from members.models import ConsentEvent, ConsentSource, Interaction, Member, Preference, ServiceRecord
from tests.conftest import make_user, token_client
from tests.members import factories

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"
RECORD_PATHS = ["service-records", "preferences", "interactions"]
VALID_RECORDS = {
    "service-records": {"kind": "delivery", "summary": "情人节花束送货上门"},
    "preferences": {"kind": "colour", "value": "红色"},
    "interactions": {"kind": "call", "channel": "phone", "summary": "咨询母亲节花束"},
}
RECORD_MODELS = {"service-records": ServiceRecord, "preferences": Preference, "interactions": Interaction}


def detail(member_no: str) -> str:
    return f"{MEMBERS}{member_no}/"


def records(member_no: str, kind: str) -> str:
    return f"{MEMBERS}{member_no}/{kind}/"


def create(client, **fields):
    payload = {"name": "李华", "phone": "13912345678"} | fields
    return client.post(MEMBERS, {k: v for k, v in payload.items() if v is not None}, format="json")


def member_nos(response) -> list[str]:
    return [row["member_no"] for row in response.json()["results"]]


@pytest.fixture
def nobody(db):
    """A staff user with no role at all."""
    return token_client(make_user("nobody"))


# --- POST /api/v1/members/ -----------------------------------------------------------------


def test_create_returns_201_with_member_no_and_the_profile(api_staff):
    response = create(
        api_staff,
        email="Li.Hua@Example.COM",
        birthday="1990-05-17",
        gender="female",
        consents={"marketing_email": True, "marketing_sms": False},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["member_no"].startswith("M")
    assert Member.objects.get(member_no=body["member_no"]).name == "李华"
    assert body["tier"] == {"code": "regular", "name": "Regular"}
    assert body["points_balance"] == 0
    # A write answers with contact data masked (only GET of the detail shows it in clear).
    assert (body["phone"], body["email"], body["birthday"]) == ("139****5678", "L***@example.com", "05-17")
    stored = Member.objects.get(member_no=body["member_no"])
    assert (stored.email, stored.birthday) == ("Li.Hua@example.com", datetime.date(1990, 5, 17))
    assert body["status"] == "active"
    assert body["source_channel"] == "api"
    assert body["consents"] == {
        "marketing_email": True,
        "marketing_sms": False,
        "marketing_wechat": False,
        "data_processing": False,
    }
    assert "id" not in body


@pytest.mark.parametrize(
    "phone",
    ["13912345678", "+8613912345678", "+86 139 1234 5678", "139-1234-5678", "+86-139 1234-5678", "0086 13912345678"],
)
def test_create_normalises_the_phone_to_e164(api_staff, phone):
    response = create(api_staff, phone=phone)

    assert response.status_code == 201, response.content
    assert Member.objects.get(member_no=response.json()["member_no"]).phone == "+8613912345678"
    assert response.json()["phone"] == "139****5678"


def test_create_records_registration_consents_with_source_api_and_the_token_user(api_staff, store_staff):
    response = create(api_staff, consents={"marketing_sms": True})

    event = ConsentEvent.objects.get(member__member_no=response.json()["member_no"])
    assert (event.topic, event.granted, event.source, event.actor) == ("marketing_sms", True, "api", store_staff)


def test_create_records_the_token_user_in_the_history(api_staff, store_staff):
    response = create(api_staff)

    member = Member.objects.get(member_no=response.json()["member_no"])
    assert member.history.get().history_user == store_staff


def test_create_with_a_store_code_sets_the_home_store(api_staff):
    factories.store(code="bj-001", name="北京三里屯店", city="北京")

    response = create(api_staff, store="bj-001")

    assert response.status_code == 201, response.content
    assert response.json()["store"] == "bj-001"


def test_create_with_a_referral_code_links_the_referrer(api_staff):
    referrer = factories.member(name="张伟")

    response = create(api_staff, referral_code=referrer.referral_code.lower())

    assert response.status_code == 201, response.content
    assert response.json()["referred_by"] == referrer.member_no
    assert Member.objects.get(member_no=response.json()["member_no"]).referred_by == referrer


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"name": None}, "name"),
        ({"name": "   "}, "name"),
        ({"phone": None}, "phone"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"email": "li.hua@"}, "email"),
        ({"birthday": "1990-13-45"}, "birthday"),
        ({"gender": "dragon"}, "gender"),
        ({"consents": {"marketing_fax": True}}, "consents"),
        ({"consents": {"marketing_email": "maybe"}}, "consents"),
        ({"store": "no-such-store"}, "store"),
        ({"referral_code": "ZZZZZZZZ"}, "referral_code"),
    ],
    ids=lambda value: str(value),
)
def test_create_refuses_invalid_input_with_field_errors(api_staff, fields, error_field):
    response = create(api_staff, **fields)

    assert response.status_code == 400, response.content
    assert error_field in response.json()
    assert not Member.objects.exists()


def test_create_refuses_a_birthday_in_the_future(api_staff):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    response = create(api_staff, birthday=tomorrow.isoformat())

    assert response.status_code == 400
    assert "birthday" in response.json()


def test_create_refuses_a_phone_already_registered_and_names_the_member(api_staff):
    existing = factories.member(phone="13912345678")

    response = create(api_staff, name="李雷", phone="+86 139-1234-5678")

    assert response.status_code == 400
    assert existing.member_no in response.json()["phone"][0]
    assert Member.objects.count() == 1


def test_create_refuses_an_external_id_already_used_and_names_the_member(api_staff):
    existing = factories.member(external_id="POS-1")

    response = create(api_staff, external_id="POS-1")

    assert response.status_code == 400
    assert existing.member_no in response.json()["external_id"][0]


def test_create_refuses_a_body_that_is_not_json(api_staff):
    response = api_staff.post(MEMBERS, data="{name: 李华,", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


# --- GET /api/v1/members/{member_no}/ ------------------------------------------------------


def test_detail_returns_the_profile_by_member_no(api_staff):
    member = factories.member(name="王芳", tags=["VIP"], consents={"marketing_email": True})

    response = api_staff.get(detail(member.member_no))

    assert response.status_code == 200
    body = response.json()
    # Store staff may see contact details: the detail shows them in clear.
    assert (body["member_no"], body["name"], body["phone"]) == (member.member_no, "王芳", member.phone)
    assert body["tags"] == ["VIP"]
    assert body["consents"]["marketing_email"] is True
    assert body["tier"] == {"code": "regular", "name": "Regular"}
    assert body["points_balance"] == 0


def test_detail_of_an_unknown_member_no_is_404(api_staff):
    assert api_staff.get(detail("M0000000000")).status_code == 404


def test_detail_never_accepts_the_database_id(api_staff):
    member = factories.member()

    assert api_staff.get(detail(str(member.pk))).status_code == 404


def test_detail_renders_times_with_the_shanghai_offset(api_staff):
    member = factories.member(registered_at=datetime.datetime(2024, 2, 14, 2, 30, tzinfo=datetime.UTC))

    body = api_staff.get(detail(member.member_no)).json()

    assert body["registered_at"] == "2024-02-14T10:30:00+08:00"
    assert body["created_at"].endswith("+08:00")


def test_detail_of_an_erased_member_shows_the_anonymised_profile(api_manager):
    member = services.erase_member(member=factories.member(name="王芳"))

    body = api_manager.get(detail(member.member_no)).json()

    assert body["status"] == "erased"
    assert body["name"] != "王芳"
    assert body["phone"] is None


# --- PATCH /api/v1/members/{member_no}/ ----------------------------------------------------


def test_patch_changes_only_the_given_fields(api_staff):
    factories.store(code="bj-001", name="北京三里屯店", city="北京")
    member = factories.member(name="王芳", email="wf@example.com", tags=["old"])

    response = api_staff.patch(
        detail(member.member_no),
        {"name": "王芳芳", "email": "new@example.com", "store": "bj-001", "tags": ["VIP", "婚礼"], "status": "frozen"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["email"], body["store"], body["status"]) == (
        "王芳芳",
        "n***@example.com",
        "bj-001",
        "frozen",
    )
    assert body["tags"] == ["VIP", "婚礼"]
    member.refresh_from_db()
    assert member.email == "new@example.com"
    assert body["phone"] == masking.mask_phone(member.phone) != member.phone
    assert member.status == Member.Status.FROZEN


def test_patch_with_only_a_name_keeps_tags_and_consents(api_staff):
    member = factories.member(tags=["VIP"], consents={"marketing_sms": True})

    body = api_staff.patch(detail(member.member_no), {"name": "新名字"}, format="json").json()

    assert body["tags"] == ["VIP"]
    assert body["consents"]["marketing_sms"] is True


def test_patch_consent_withdrawal_takes_effect_at_once_and_is_recorded(api_staff, store_staff):
    member = factories.member(consents={"marketing_email": True, "marketing_sms": True})

    response = api_staff.patch(detail(member.member_no), {"consents": {"marketing_email": False}}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["consents"]["marketing_email"] is False
    assert response.json()["consents"]["marketing_sms"] is True
    assert not member.consents.get(topic="marketing_email").granted
    event = member.consent_events.filter(topic="marketing_email").first()
    assert (event.granted, event.source, event.actor) == (False, ConsentSource.API, store_staff)


def test_patch_records_the_token_user_in_the_history(api_staff, store_staff):
    member = factories.member()

    api_staff.patch(detail(member.member_no), {"name": "新名字"}, format="json")

    assert member.history.first().history_user == store_staff


def test_patch_status_erased_is_refused(api_manager):
    member = factories.member()

    response = api_manager.patch(detail(member.member_no), {"status": "erased"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


def test_patch_of_an_erased_member_is_409_member_erased(api_manager):
    member = services.erase_member(member=factories.member())

    response = api_manager.patch(detail(member.member_no), {"name": "复活"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "member_erased"
    assert member.member_no in response.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"name": ""}, "name"),
        ({"status": "sleeping"}, "status"),
        ({"consents": {"marketing_fax": False}}, "consents"),
        ({"store": "no-such-store"}, "store"),
    ],
    ids=lambda value: str(value),
)
def test_patch_refuses_invalid_input_with_field_errors(api_staff, fields, error_field):
    member = factories.member(name="王芳")

    response = api_staff.patch(detail(member.member_no), fields, format="json")

    assert response.status_code == 400, response.content
    assert error_field in response.json()
    member.refresh_from_db()
    assert member.name == "王芳"


def test_patch_to_a_phone_of_another_member_is_refused(api_staff):
    other = factories.member(phone="13912345678")
    member = factories.member()

    response = api_staff.patch(detail(member.member_no), {"phone": "139 1234 5678"}, format="json")

    assert response.status_code == 400
    assert other.member_no in response.json()["phone"][0]


def test_patch_of_an_unknown_member_is_404(api_staff):
    assert api_staff.patch(detail("M0000000000"), {"name": "x"}, format="json").status_code == 404


def test_put_is_not_offered_so_a_full_replace_cannot_wipe_fields(api_manager):
    """PATCH is the one update verb (docs/api.md); PUT is refused rather than treated as partial."""
    member = factories.member(name="王芳")

    response = api_manager.put(detail(member.member_no), {"name": "新名字"}, format="json")

    assert response.status_code == 405
    member.refresh_from_db()
    assert member.name == "王芳"


def test_delete_is_not_offered(api_manager):
    member = factories.member()

    assert api_manager.delete(detail(member.member_no)).status_code == 405
    assert Member.objects.filter(pk=member.pk).exists()


# --- GET /api/v1/members/?... --------------------------------------------------------------


@pytest.mark.parametrize("query", ["13912345678", "+8613912345678", "+86 139-1234-5678", "0086 139 1234 5678"])
def test_list_phone_filter_is_an_exact_match_in_any_format(api_staff, query):
    wanted = factories.member(phone="13912345678")
    factories.member(phone="13912345679")

    response = api_staff.get(MEMBERS, {"phone": query})

    assert member_nos(response) == [wanted.member_no]


def test_list_phone_filter_with_garbage_finds_nobody(api_staff):
    factories.member()

    assert api_staff.get(MEMBERS, {"phone": "abc"}).json()["count"] == 0


def test_list_external_id_filter(api_staff):
    wanted = factories.member(external_id="POS-42")
    factories.member(external_id="POS-4")

    assert member_nos(api_staff.get(MEMBERS, {"external_id": "POS-42"})) == [wanted.member_no]


def test_list_tier_filter_before_rewards_exists(api_staff):
    factories.member()
    factories.member()

    assert api_staff.get(MEMBERS, {"tier": "regular"}).json()["count"] == 2
    assert api_staff.get(MEMBERS, {"tier": "gold"}).json()["count"] == 0


def test_list_search_by_name_fragment(api_staff):
    wanted = factories.member(name="欧阳娜娜")
    factories.member(name="王芳")

    assert member_nos(api_staff.get(MEMBERS, {"search": "阳娜"})) == [wanted.member_no]


def test_list_search_by_member_no(api_staff):
    wanted = factories.member()
    factories.member()

    assert member_nos(api_staff.get(MEMBERS, {"search": wanted.member_no})) == [wanted.member_no]


def test_list_search_by_phone(api_staff):
    wanted = factories.member(phone="13912345678")
    factories.member()

    assert member_nos(api_staff.get(MEMBERS, {"search": "139 1234 5678"})) == [wanted.member_no]


def test_list_is_paginated_with_count_next_previous_results(api_staff):
    for _i in range(3):
        factories.member()

    first = api_staff.get(MEMBERS, {"page_size": 2}).json()
    second = api_staff.get(first["next"]).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert (len(second["results"]), second["next"]) == (1, None)
    assert second["previous"]


def test_list_store_and_status_filters(api_staff):
    beijing = factories.store(code="bj-001", name="北京三里屯店", city="北京")
    wanted = factories.member(home_store=beijing)
    frozen = factories.member(home_store=beijing)
    services.update_member(member=frozen, status=Member.Status.FROZEN)
    factories.member()

    assert sorted(member_nos(api_staff.get(MEMBERS, {"store": "bj-001"}))) == sorted(
        [wanted.member_no, frozen.member_no]
    )
    assert member_nos(api_staff.get(MEMBERS, {"store": "bj-001", "status": "active"})) == [wanted.member_no]


def test_list_refuses_an_unknown_status_value(api_staff):
    response = api_staff.get(MEMBERS, {"status": "sleeping"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_list_is_newest_registration_first(api_staff):
    old = factories.member(registered_at=timezone.now() - datetime.timedelta(days=30))
    new = factories.member()

    assert member_nos(api_staff.get(MEMBERS)) == [new.member_no, old.member_no]


def test_list_tag_filter_does_not_repeat_members(api_staff):
    wanted = factories.member(tags=["VIP", "婚礼"])
    factories.member(tags=["婚礼"])

    assert member_nos(api_staff.get(MEMBERS, {"tag": "VIP"})) == [wanted.member_no]


# --- records -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RECORD_PATHS)
def test_record_post_returns_201_with_the_record_and_get_lists_it(api_staff, kind):
    member = factories.member()

    created = api_staff.post(records(member.member_no, kind), VALID_RECORDS[kind], format="json")
    listed = api_staff.get(records(member.member_no, kind))

    assert created.status_code == 201, created.content
    assert created.json()["id"] == RECORD_MODELS[kind].objects.get(member=member).pk
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [created.json()["id"]]


@pytest.mark.parametrize("kind", ["service-records", "interactions"])
def test_record_post_sets_the_staff_to_the_token_user(api_staff, kind):
    member = factories.member()

    body = api_staff.post(records(member.member_no, kind), VALID_RECORDS[kind], format="json").json()

    assert body["staff"] == "staff"


def test_record_lists_show_only_that_members_records(api_staff):
    member, other = factories.member(), factories.member()
    services.add_service_record(member=other, kind="repair", summary="别人的")

    assert api_staff.get(records(member.member_no, "service-records")).json()["count"] == 0


@pytest.mark.parametrize(
    ("kind", "payload", "error_field"),
    [
        ("service-records", {"kind": "haircut", "summary": "x"}, "kind"),
        ("service-records", {"kind": "repair"}, "summary"),
        ("service-records", {"kind": "repair", "summary": "x", "store": "nowhere"}, "store"),
        ("preferences", {"kind": "smell", "value": "x"}, "kind"),
        ("preferences", {"kind": "custom", "value": "百合"}, "key"),
        ("preferences", {"kind": "colour"}, "value"),
        ("interactions", {"kind": "telepathy", "channel": "phone", "summary": "x"}, "kind"),
        ("interactions", {"kind": "call", "channel": "phone"}, "summary"),
        ("interactions", {"kind": "call", "channel": "pigeon", "summary": "x"}, "channel"),
    ],
    ids=lambda value: str(value),
)
def test_record_post_refuses_invalid_input_with_field_errors(api_manager, kind, payload, error_field):
    member = factories.member()

    response = api_manager.post(records(member.member_no, kind), payload, format="json")

    assert response.status_code == 400, response.content
    assert error_field in response.json()
    assert not RECORD_MODELS[kind].objects.exists()


def test_custom_preference_with_a_key_is_accepted(api_staff):
    member = factories.member()

    response = api_staff.post(
        records(member.member_no, "preferences"), {"kind": "custom", "key": "香味", "value": "淡香"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["key"], response.json()["value"]) == ("香味", "淡香")


@pytest.mark.parametrize("kind", [*RECORD_PATHS, "purchases"])
def test_records_of_an_unknown_member_are_404(api_manager, kind):
    assert api_manager.get(records("M0000000000", kind)).status_code == 404


@pytest.mark.parametrize("kind", RECORD_PATHS)
def test_record_post_for_an_unknown_member_is_404(api_manager, kind):
    assert api_manager.post(records("M0000000000", kind), VALID_RECORDS[kind], format="json").status_code == 404


@pytest.mark.parametrize("kind", RECORD_PATHS)
def test_record_post_for_an_erased_member_is_409(api_manager, kind):
    member = services.erase_member(member=factories.member())

    response = api_manager.post(records(member.member_no, kind), VALID_RECORDS[kind], format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "member_erased"


def test_purchases_lists_purchases_with_items_money_as_strings_and_shanghai_times(api_staff):
    member = factories.member()
    ordered_at = datetime.datetime(2024, 2, 14, 3, 0, tzinfo=datetime.UTC)
    services.record_purchase(
        member=member,
        external_ref="POS-0214-1",
        ordered_at=ordered_at,
        items=[
            services.PurchaseLine(sku=factories.product().sku, quantity=1, unit_price=Decimal("199")),
            services.PurchaseLine(
                sku="CARD-1", name="贺卡", category="卡片", quantity=2, unit_price=Decimal("5.5"), discount=Decimal("1")
            ),
        ],
        store=factories.store(),
        payment_method="wechat_pay",
    )

    response = api_staff.get(records(member.member_no, "purchases"))

    assert response.status_code == 200
    (purchase,) = response.json()["results"]
    assert purchase["member"] == member.member_no
    assert purchase["external_ref"] == "POS-0214-1"
    assert purchase["store"] == "sh-001"
    assert (purchase["subtotal"], purchase["discount_total"], purchase["total"]) == ("210.00", "1.00", "209.00")
    assert purchase["ordered_at"] == "2024-02-14T11:00:00+08:00"
    assert purchase["items"] == [
        {
            "sku": "ROSE-11",
            "name": "11枝红玫瑰花束",
            "category": "roses",
            "quantity": 1,
            "unit_price": "199.00",
            "discount": "0.00",
            "line_total": "199.00",
        },
        {
            "sku": "CARD-1",
            "name": "贺卡",
            "category": purchase["items"][1]["category"],
            "quantity": 2,
            "unit_price": "5.50",
            "discount": "1.00",
            "line_total": "10.00",
        },
    ]
    assert purchase["items"][1]["category"]


def test_purchases_are_read_only_here(api_manager):
    member = factories.member()

    response = api_manager.post(records(member.member_no, "purchases"), {}, format="json")

    assert response.status_code == 405


# --- authentication and roles --------------------------------------------------------------


def every_endpoint(member_no: str) -> list[tuple[str, str, dict]]:
    return [
        ("get", MEMBERS, {}),
        ("post", MEMBERS, {"name": "李华", "phone": "13912345678"}),
        ("get", detail(member_no), {}),
        ("patch", detail(member_no), {"name": "新名字"}),
        *[("get", records(member_no, kind), {}) for kind in [*RECORD_PATHS, "purchases"]],
        *[("post", records(member_no, kind), VALID_RECORDS[kind]) for kind in RECORD_PATHS],
    ]


def test_anonymous_gets_401_with_a_token_challenge_everywhere(api_anon):
    member = factories.member()

    for method, url, payload in every_endpoint(member.member_no):
        response = getattr(api_anon, method)(url, payload, format="json")
        assert response.status_code == 401, (method, url)
        assert response.headers["WWW-Authenticate"] == "Token", (method, url)


def test_an_invalid_token_gets_401(api_anon):
    api_anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert api_anon.get(MEMBERS).status_code == 401


def test_staff_without_a_role_gets_403_on_reads_and_writes(nobody):
    member = factories.member()

    for method, url, payload in every_endpoint(member.member_no):
        response = getattr(nobody, method)(url, payload, format="json")
        assert response.status_code == 403, (method, url)
    assert Member.objects.count() == 1


def test_staff_without_a_role_gets_403_not_404_for_an_unknown_member(nobody):
    """A user who may not read members must not learn which member numbers exist."""
    for kind in RECORD_PATHS:
        assert nobody.get(records("M0000000000", kind)).status_code == 403
    assert nobody.get(records("M0000000000", "purchases")).status_code == 403
    assert nobody.get(detail("M0000000000")).status_code == 403


def test_marketing_reads_members_and_their_records_but_not_service_records(api_marketing):
    """0002_roles gives Marketing no view_servicerecord: repairs and complaints are Support's."""
    member = factories.member()

    assert api_marketing.get(MEMBERS).status_code == 200
    assert api_marketing.get(detail(member.member_no)).status_code == 200
    for kind in ["preferences", "interactions", "purchases"]:
        assert api_marketing.get(records(member.member_no, kind)).status_code == 200, kind
    assert api_marketing.get(records(member.member_no, "service-records")).status_code == 403


def test_marketing_cannot_create_or_change_members(api_marketing):
    member = factories.member(name="王芳")

    assert create(api_marketing).status_code == 403
    assert api_marketing.patch(detail(member.member_no), {"name": "x"}, format="json").status_code == 403
    member.refresh_from_db()
    assert member.name == "王芳"
    assert Member.objects.count() == 1


@pytest.mark.parametrize(("kind", "status"), [("service-records", 403), ("preferences", 403), ("interactions", 201)])
def test_marketing_record_writes_follow_the_role(api_marketing, kind, status):
    """0002_roles: Marketing may log interactions (campaign responses), nothing else."""
    member = factories.member()

    assert api_marketing.post(records(member.member_no, kind), VALID_RECORDS[kind], format="json").status_code == status


@pytest.mark.parametrize(("kind", "status"), [("service-records", 201), ("preferences", 403), ("interactions", 201)])
def test_support_record_writes_follow_the_role(api_support, kind, status):
    member = factories.member()

    assert api_support.post(records(member.member_no, kind), VALID_RECORDS[kind], format="json").status_code == status


def test_support_reads_but_cannot_create_or_change_members(api_support):
    member = factories.member()

    assert api_support.get(detail(member.member_no)).status_code == 200
    assert create(api_support).status_code == 403
    assert api_support.patch(detail(member.member_no), {"name": "x"}, format="json").status_code == 403


def test_store_staff_create_and_change_members_and_add_every_record(api_staff):
    response = create(api_staff)
    member_no = response.json()["member_no"]

    assert response.status_code == 201
    assert api_staff.patch(detail(member_no), {"name": "新名字"}, format="json").status_code == 200
    for kind in RECORD_PATHS:
        assert api_staff.post(records(member_no, kind), VALID_RECORDS[kind], format="json").status_code == 201, kind


def test_manager_may_do_everything(api_manager):
    member = factories.member()

    for method, url, payload in every_endpoint(member.member_no):
        response = getattr(api_manager, method)(url, payload, format="json")
        assert response.status_code in {200, 201}, (method, url, response.content)


def test_session_authentication_works_for_the_browsable_api(client, store_staff):
    client.force_login(store_staff)

    assert client.get(MEMBERS, HTTP_ACCEPT="application/json").status_code == 200


# --- query counts --------------------------------------------------------------------------


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(queries)


def rich_member(index: int):
    member = factories.member(
        name=f"会员{index}",
        email=f"m{index}@example.com",
        tags=[f"tag-{index}", "VIP"],
        consents={"marketing_email": True, "marketing_sms": index % 2 == 0},
        home_store=factories.store(),
    )
    if index:
        member.referred_by = Member.objects.order_by("id").first()
        member.save(update_fields=["referred_by"])
    return member


def test_list_runs_the_same_number_of_queries_for_3_and_30_members(api_staff):
    for index in range(3):
        rich_member(index)
    few = count_queries(api_staff, MEMBERS)
    for index in range(3, 30):
        rich_member(index)

    many = count_queries(api_staff, MEMBERS)

    assert many == few
    assert few <= 8


def test_filtered_list_runs_a_fixed_number_of_queries(api_staff):
    for index in range(3):
        rich_member(index)
    few = count_queries(api_staff, MEMBERS, {"tag": "VIP", "search": "会员"})
    for index in range(3, 20):
        rich_member(index)

    assert count_queries(api_staff, MEMBERS, {"tag": "VIP", "search": "会员"}) == few


def test_detail_runs_a_fixed_number_of_queries(api_staff):
    plain = factories.member()
    rich = rich_member(1)
    services.set_tags(member=rich, names=[f"tag-{i}" for i in range(10)])
    services.set_consents(member=rich, consents=dict.fromkeys(["marketing_wechat", "data_processing"], True))

    assert count_queries(api_staff, detail(rich.member_no)) == count_queries(api_staff, detail(plain.member_no))


@pytest.mark.parametrize("kind", RECORD_PATHS)
def test_record_lists_run_a_fixed_number_of_queries(api_staff, store_staff, kind):
    member = factories.member()
    store = factories.store()

    def add(count):
        for _i in range(count):
            if kind == "service-records":
                services.add_service_record(member=member, kind="repair", summary="x", store=store, actor=store_staff)
            elif kind == "preferences":
                services.add_preference(member=member, kind="favourite_product", product=factories.product())
            else:
                services.add_interaction(
                    member=member, kind="visit", channel="store", summary="x", store=store, actor=store_staff
                )

    add(2)
    few = count_queries(api_staff, records(member.member_no, kind))
    add(18)

    assert count_queries(api_staff, records(member.member_no, kind)) == few


def test_purchase_list_runs_a_fixed_number_of_queries(api_staff):
    member = factories.member()
    factories.purchase(member, store=factories.store())
    few = count_queries(api_staff, records(member.member_no, "purchases"))
    for _i in range(10):
        factories.purchase(member, store=factories.store())

    assert count_queries(api_staff, records(member.member_no, "purchases")) == few
