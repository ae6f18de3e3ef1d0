"""The staff roles hold exactly these permissions (created by data migrations, not by hand)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

VIEW_REFERENCE = {"view_store", "view_category", "view_product", "view_tag", "view_consent", "view_consentevent"}

EXPECTED = {
    STORE_STAFF: VIEW_REFERENCE
    | {
        "view_member", "add_member", "change_member", "add_tag",
        "view_purchase", "add_purchase", "view_purchaseitem", "add_purchaseitem",
        "view_servicerecord", "add_servicerecord", "change_servicerecord",
        "view_preference", "add_preference", "change_preference", "delete_preference",
        "view_interaction", "add_interaction", "view_contact_details",
        "view_importantdate", "add_importantdate", "change_importantdate", "delete_importantdate",
    },
    MARKETING: VIEW_REFERENCE
    | {"view_member", "view_purchase", "view_purchaseitem", "view_preference", "view_interaction",
       "add_interaction", "view_all_stores", "view_importantdate", "view_holiday"},
    SUPPORT: VIEW_REFERENCE
    | {"view_member", "view_purchase", "view_purchaseitem", "view_servicerecord", "add_servicerecord",
       "change_servicerecord", "view_preference", "view_interaction", "add_interaction", "view_all_stores",
       "view_contact_details", "view_importantdate"},
    MANAGER: {
        f"{action}_{model}"
        for model in [
            "member", "store", "category", "product", "tag", "consent", "consentevent", "purchase", "purchaseitem",
            "servicerecord", "preference", "interaction", "historicalmember", "staffprofile", "importantdate",
            "holiday",
        ]
        for action in ("view", "add", "change", "delete")
    }
    | {"export_member", "erase_member", "import_members", "view_all_stores", "view_contact_details",
       "view_contactdetailview", "view_accountclosurerequest", "change_accountclosurerequest"}
    | {"view_termsversion", "add_termsversion", "change_termsversion", "delete_termsversion",
       "view_termsacceptance"},
}  # fmt: skip


def permissions_of(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return set(group.permissions.filter(content_type__app_label="members").values_list("codename", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_permissions(role):
    assert permissions_of(role) == EXPECTED[role]


def test_only_managers_may_erase_export_or_import_members():
    sensitive = {"erase_member", "export_member", "import_members"}
    for role in ROLES:
        assert (sensitive <= permissions_of(role)) == (role == MANAGER)
        assert (sensitive & permissions_of(role) == set()) == (role != MANAGER)


def test_marketing_alone_may_not_see_contact_details_in_clear():
    for role in ROLES:
        assert ("view_contact_details" in permissions_of(role)) == (role != MARKETING)


def test_only_managers_read_the_record_of_contact_detail_views_and_nobody_may_edit_it():
    for role in ROLES:
        granted = {p for p in permissions_of(role) if p.endswith("_contactdetailview")}
        assert granted == ({"view_contactdetailview"} if role == MANAGER else set())


def test_store_staff_see_only_their_own_store_reports():
    assert "view_all_stores" not in permissions_of(STORE_STAFF)


def test_care_plans_store_staff_sell_support_claims_managers_all():
    """rewards/migrations/0024_care_plan_roles.py (the full sets are pinned in tests/rewards/test_roles.py)."""

    def rewards_perms(role):
        group = Group.objects.get(name=role)
        return set(group.permissions.filter(content_type__app_label="rewards").values_list("codename", flat=True))

    sellers = [role for role in ROLES if "add_careplansale" in rewards_perms(role)]
    claims = [role for role in ROLES if "add_careplanclaim" in rewards_perms(role)]
    plans = [role for role in ROLES if "add_careplan" in rewards_perms(role)]
    assert set(sellers) == {STORE_STAFF, MANAGER}
    assert set(claims) == {SUPPORT, MANAGER}
    assert plans == [MANAGER]


def test_managers_edit_the_holiday_calendar_and_marketing_reads_it():
    for role in ROLES:
        granted = {p for p in permissions_of(role) if p.endswith("_holiday")}
        expected = {f"{a}_holiday" for a in ("view", "add", "change", "delete")} if role == MANAGER else set()
        assert granted == (expected or ({"view_holiday"} if role == MARKETING else set()))
