"""Binding a member's WeChat openid: the members service and the member page in the admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from members import services
from members.models import Member
from tests.members import factories
from tests.members.test_admin import form_data

pytestmark = pytest.mark.django_db

OPENID = "oia2TjuEGTNoeX76QEjQNrcURxG8"


def test_binding_records_the_change_in_the_members_history(manager):
    member = factories.member(name="陈美玲")
    services.bind_wechat_openid(member, OPENID, actor=manager)
    member.refresh_from_db()
    assert member.wechat_openid == OPENID
    latest = member.history.first()
    assert (latest.wechat_openid, latest.history_user) == (OPENID, manager)


def test_an_openid_bound_to_another_member_is_refused_naming_that_member():
    first = factories.member(name="甲")
    second = factories.member(name="乙")
    services.bind_wechat_openid(first, OPENID)
    with pytest.raises(ValidationError) as refused:
        services.bind_wechat_openid(second, OPENID)
    (error,) = refused.value.error_dict["wechat_openid"]
    assert error.code == "wechat_openid_taken"
    assert first.member_no in error.messages[0]
    second.refresh_from_db()
    assert second.wechat_openid is None


def test_binding_the_same_openid_again_changes_nothing():
    member = factories.member()
    services.bind_wechat_openid(member, OPENID)
    versions = member.history.count()
    services.bind_wechat_openid(member, f"  {OPENID} ")
    assert member.history.count() == versions


def test_an_empty_value_unbinds_and_frees_the_openid_for_another_member():
    first = factories.member(name="甲")
    second = factories.member(name="乙")
    services.bind_wechat_openid(first, OPENID)
    services.bind_wechat_openid(first, "")
    services.bind_wechat_openid(second, OPENID)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.wechat_openid, second.wechat_openid) == (None, OPENID)


@pytest.mark.parametrize("openid", ["short", "has space in it", "x" * 65, "<script>"])
def test_a_value_that_is_not_an_openid_is_refused(openid):
    member = factories.member()
    with pytest.raises(ValidationError) as refused:
        services.bind_wechat_openid(member, openid)
    assert "wechat_openid" in refused.value.error_dict


def test_erasing_a_member_unbinds_the_openid_and_no_openid_can_be_bound_after(manager):
    member = factories.member()
    services.bind_wechat_openid(member, OPENID)
    services.erase_member(member=member, actor=manager)
    member.refresh_from_db()
    assert member.wechat_openid is None
    with pytest.raises(services.MemberErased):
        services.bind_wechat_openid(member, OPENID)


# --- the member page -------------------------------------------------------------------------


def test_staff_bind_an_openid_on_the_member_page(client, store_staff):
    member = factories.member(name="陈美玲")
    client.force_login(store_staff)
    url = reverse("admin:members_member_change", args=[member.pk])
    data = form_data(client.get(url)) | {"wechat_openid": OPENID}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.wechat_openid == OPENID
    assert member.history.first().history_user == store_staff


def test_the_member_page_shows_a_taken_openid_next_to_the_field_and_saves_nothing(client, store_staff):
    owner = factories.member(name="甲")
    services.bind_wechat_openid(owner, OPENID)
    member = factories.member(name="乙")
    client.force_login(store_staff)
    url = reverse("admin:members_member_change", args=[member.pk])
    data = form_data(client.get(url)) | {"wechat_openid": OPENID, "name": "乙2"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["wechat_openid"] == [
        f"This WeChat openid is already bound to member {owner.member_no}."
    ]
    member.refresh_from_db()
    assert (member.name, member.wechat_openid) == ("乙", None)  # the whole page rolled back


def test_staff_clear_an_openid_on_the_member_page(client, store_staff):
    member = factories.member()
    services.bind_wechat_openid(member, OPENID)
    client.force_login(store_staff)
    url = reverse("admin:members_member_change", args=[member.pk])
    data = form_data(client.get(url)) | {"wechat_openid": ""}
    assert client.post(url, data).status_code == 302
    assert Member.objects.get(pk=member.pk).wechat_openid is None
