"""Staff decide members' requests to close their account in the admin (/admin/members/accountclosurerequest/)."""

from __future__ import annotations

import pytest

from members import services
from members.models import AccountClosureRequest, Member, MemberSession
from tests.members import factories

pytestmark = pytest.mark.django_db

URL = "/admin/members/accountclosurerequest/"


@pytest.fixture
def request_row():
    member = factories.member(name="王小明")
    from loyalty_crm.centre.session import start_session

    start_session(member)
    return services.request_account_closure(member=member, reason="搬家")


def test_a_manager_confirms_and_the_member_is_erased_and_signed_out(client, manager, request_row):
    client.force_login(manager)

    response = client.post(f"{URL}{request_row.pk}/change/", {"decision": "confirm", "note": ""})

    assert response.status_code == 302, response.content.decode()[:2000]
    request_row.refresh_from_db()
    assert (request_row.status, request_row.handled_by) == ("confirmed", manager)
    member = Member.objects.get(pk=request_row.member_id)
    assert member.is_erased
    assert not MemberSession.objects.filter(member=member, ended_at__isnull=True).exists()


def test_a_refusal_needs_a_note(client, manager, request_row):
    client.force_login(manager)

    refused = client.post(f"{URL}{request_row.pk}/change/", {"decision": "refuse", "note": ""})
    request_row.refresh_from_db()
    assert refused.status_code == 200 and request_row.status == "requested"

    client.post(f"{URL}{request_row.pk}/change/", {"decision": "refuse", "note": "仍有未完成的订单"})
    request_row.refresh_from_db()
    assert (request_row.status, request_row.note) == ("refused", "仍有未完成的订单")
    assert not Member.objects.get(pk=request_row.member_id).is_erased


def test_a_request_withdrawn_meanwhile_is_not_confirmed(client, manager, request_row):
    client.force_login(manager)
    services.withdraw_account_closure(member=request_row.member, request=request_row)

    response = client.post(f"{URL}{request_row.pk}/change/", {"decision": "confirm", "note": ""})

    assert response.status_code in (200, 302, 403)
    assert not Member.objects.get(pk=request_row.member_id).is_erased


def test_the_list_runs_a_fixed_number_of_queries(client, manager, django_assert_max_num_queries):
    client.force_login(manager)
    for index in range(5):
        services.request_account_closure(member=factories.member(name=f"会员{index}"))
    with django_assert_max_num_queries(12):
        assert client.get(URL).status_code == 200


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support"])
def test_other_roles_cannot_decide(client, request, role, request_row):
    client.force_login(request.getfixturevalue(role))

    client.post(f"{URL}{request_row.pk}/change/", {"decision": "confirm", "note": ""})

    assert AccountClosureRequest.objects.get(pk=request_row.pk).status == "requested"


def test_an_erasure_by_other_means_answers_the_open_request_and_ends_the_sessions(manager, request_row):
    """The admin's erase action (or any erase_member call) leaves no request open with the
    member's words, and no member-centre session alive."""
    services.erase_member(member=request_row.member, actor=manager)

    request_row.refresh_from_db()
    assert (request_row.status, request_row.handled_by, request_row.reason) == ("confirmed", manager, "")
    assert request_row.handled_at is not None
    assert not MemberSession.objects.filter(member_id=request_row.member_id, ended_at__isnull=True).exists()
