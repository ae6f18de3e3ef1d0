"""Member events through the API, the admin (check-in, results, invite, list) and the member centre
(its page, its API and the signed invitation link); and the roles' permissions on events."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns import event_links
from campaigns.models import EventInvitation, EventRegistration
from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT
from tests.campaigns.event_helpers import event, member, sign_up
from tests.conftest import make_user
from tests.members.centre_helpers import member_api, member_client

pytestmark = pytest.mark.django_db

EXPECTED = {
    STORE_STAFF: {"view_event", "view_eventregistration", "add_eventregistration", "checkin_event"},
    SUPPORT: set(),
    MARKETING: {
        "view_event", "add_event", "change_event", "view_eventregistration", "add_eventregistration",
        "change_eventregistration", "view_eventinvitation", "add_eventinvitation",
    },
    MANAGER: {
        "view_event", "add_event", "change_event", "delete_event", "checkin_event", "view_eventregistration",
        "add_eventregistration", "change_eventregistration", "view_eventinvitation", "add_eventinvitation",
    },
}  # fmt: skip
EVENT_MODELS = ["event", "eventregistration", "eventinvitation"]


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_event_permissions(role):
    held = set(
        Group.objects.get(name=role)
        .permissions.filter(content_type__app_label="campaigns", content_type__model__in=EVENT_MODELS)
        .values_list("codename", flat=True)
    )
    assert held == EXPECTED[role]


def starts(days=3):
    return timezone.now() + datetime.timedelta(days=days)


def test_marketing_creates_an_event_and_store_staff_may_not(api_marketing, api_staff):
    body = {
        "title": "插花工作坊", "kind": "workshop", "starts_at": starts().isoformat(),
        "ends_at": (starts() + datetime.timedelta(hours=2)).isoformat(), "capacity": 10,
        "audience": {"classifications": ["high_value"]},
    }  # fmt: skip
    created = api_marketing.post("/api/v1/events/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["seats_left"] == 10 and created.json()["audience"]["classifications"] == ["high_value"]
    assert api_staff.post("/api/v1/events/", body, format="json").status_code == 403


def test_bad_event_input_is_a_400_naming_the_field(api_marketing):
    body = {"title": "x", "kind": "workshop", "starts_at": starts().isoformat(), "ends_at": starts(1).isoformat(),
            "capacity": 10}  # fmt: skip
    answer = api_marketing.post("/api/v1/events/", body, format="json")
    assert answer.status_code == 400 and "ends_at" in answer.json()


def test_registrations_over_the_api(api_staff):
    made = event(capacity=1)
    first, second = member(), member()
    url = f"/api/v1/events/{made.pk}/registrations/"
    one = api_staff.post(url, {"member": first.member_no, "idempotency_key": "a"}, format="json")
    assert one.status_code == 201 and one.json()["status"] == "confirmed" and "position" not in one.json()
    assert api_staff.post(url, {"member": first.member_no, "idempotency_key": "a"}, format="json").status_code == 200
    two = api_staff.post(url, {"member": second.member_no, "idempotency_key": "b"}, format="json")
    assert two.status_code == 201 and two.json()["status"] == "waitlisted" and two.json()["position"] == 1
    again = api_staff.post(url, {"member": first.member_no, "idempotency_key": "c"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_registered"
    detail = api_staff.get(f"/api/v1/events/{made.pk}/").json()
    assert (detail["confirmed"], detail["waitlisted"], detail["seats_left"]) == (1, 1, 0)
    cancel = api_staff.post(f"/api/v1/events/{made.pk}/registrations/{one.json()['id']}/cancel/")
    assert cancel.status_code == 200 and cancel.json()["promoted"] == [second.member_no]


def test_closed_sign_up_is_a_409(api_staff):
    made = event(signup_opens_at=starts(1))
    answer = api_staff.post(
        f"/api/v1/events/{made.pk}/registrations/", {"member": member().member_no, "idempotency_key": "k"}
    )
    assert answer.status_code == 409 and answer.json()["code"] == "signup_closed"


def test_event_list_runs_a_fixed_number_of_queries(api_staff, django_assert_max_num_queries):
    for _ in range(2):
        sign_up(event(), member())
    with django_assert_max_num_queries(8) as few:
        assert api_staff.get("/api/v1/events/").status_code == 200
    for _ in range(6):
        sign_up(event(), member())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api_staff.get("/api/v1/events/").json()["count"] == 8


def test_check_in_page_scans_a_card_once(client):
    staff = make_user("door", STORE_STAFF)
    client.force_login(staff)
    made, guest = event(), member(name="林小雨")
    sign_up(made, guest)
    url = f"/admin/events/{made.pk}/check-in/"
    assert client.get(url).status_code == 200
    first = client.post(url, {"code": guest.member_no})
    assert "林小雨" in first.content.decode() and first.context["result"].outcome == "checked_in"
    assert client.post(url, {"code": guest.member_no}).context["result"].outcome == "already_checked_in"
    assert client.post(url, {"code": member().member_no}).context["result"].outcome == "not_registered"


def test_marketing_may_not_check_in(client):
    client.force_login(make_user("mk", MARKETING))
    assert client.get(f"/admin/events/{event().pk}/check-in/").status_code == 403


def test_results_page_and_event_changelist(client, django_assert_max_num_queries):
    client.force_login(make_user("boss", MANAGER))
    made = event()
    sign_up(made, member())
    assert client.get(f"/admin/events/{made.pk}/results/").status_code == 200
    with django_assert_max_num_queries(30) as few:
        assert client.get("/admin/campaigns/event/").status_code == 200
    for _ in range(5):
        event()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/admin/campaigns/event/").status_code == 200


def test_invite_makes_a_draft_campaign_with_the_link(client):
    client.force_login(make_user("mk2", MARKETING))
    made = event()
    answer = client.post(f"/admin/events/{made.pk}/invite/", {"segment": "", "channel": "sms", "body": ""})
    assert answer.status_code == 302
    invitation = EventInvitation.objects.get(event=made)
    assert "{{ event_link }}" in invitation.campaign.body and invitation.campaign.status == "draft"


def test_signed_link_signs_up_without_a_session(client):
    made, guest = event(), member(name="林小雨")
    url = event_links.link_for(event_id=made.pk, member_no=guest.member_no).split("8000", 1)[-1]
    page = client.get(url)
    assert page.status_code == 200 and "林小雨" in page.content.decode()
    done = client.post(url, {"idempotency_key": "x1"})
    assert done.status_code == 200
    assert EventRegistration.objects.get(member=guest).source == "link"
    assert client.post(url, {"idempotency_key": "x2"}).status_code == 200  # already signed up: shown, not doubled
    assert EventRegistration.objects.filter(member=guest).count() == 1


def test_forged_link_is_a_clear_400(client):
    answer = client.get("/m/events/link/not-a-token/")
    assert answer.status_code == 400


def test_member_centre_page_and_api(django_assert_max_num_queries):
    guest = member()
    made = event(capacity=1)
    sign_up(made, member())
    page = member_client(guest)
    assert page.get("/m/events/").status_code == 200
    page.post(f"/m/events/{made.pk}/sign-up/", {"idempotency_key": "p1"})
    assert EventRegistration.objects.get(member=guest).status == "waitlisted"
    api = member_api(guest)
    listed = api.get("/api/v1/me/events/").json()
    assert listed["registrations"][0]["position"] == 1
    registration = EventRegistration.objects.get(member=guest)
    assert api.post(f"/api/v1/me/events/registrations/{registration.pk}/cancel/").status_code == 200
    with django_assert_max_num_queries(20) as few:
        page.get("/m/events/")
    for _ in range(4):
        event()
    with django_assert_max_num_queries(len(few.captured_queries)):
        page.get("/m/events/")


def test_admin_form_names_a_bad_end_instead_of_failing(client):
    client.force_login(make_user("mk3", MARKETING))
    day = starts().strftime("%Y-%m-%d")
    answer = client.post(
        "/admin/campaigns/event/add/",
        {
            "title": "试香会", "kind": "tasting", "starts_at_0": day, "starts_at_1": "15:00:00",
            "ends_at_0": day, "ends_at_1": "14:00:00", "capacity": "10", "price": "0", "points_cost": "0",
        },
    )  # fmt: skip
    assert answer.status_code == 200 and "ends_at" in answer.context["adminform"].form.errors


def test_admin_creates_an_event_through_the_service(client):
    client.force_login(make_user("mk4", MARKETING))
    day = starts().strftime("%Y-%m-%d")
    answer = client.post(
        "/admin/campaigns/event/add/",
        {
            "title": "试香会", "kind": "tasting", "starts_at_0": day, "starts_at_1": "15:00:00",
            "ends_at_0": day, "ends_at_1": "17:00:00", "capacity": "10", "price": "0", "points_cost": "0",
            "audience_classifications": ["high_value"],
        },
    )  # fmt: skip
    assert answer.status_code == 302
    from campaigns.models import Event

    made = Event.objects.get(title="试香会")
    assert made.audience_classifications == ["high_value"] and made.created_by.username == "mk4"


def test_results_page_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    client.force_login(make_user("boss2", MANAGER))
    made = event(capacity=3)
    sign_up(made, member())
    url = f"/admin/events/{made.pk}/results/"
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    for _ in range(6):
        sign_up(made, member())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
