"""The staff roles hold exactly these referral and partner permissions (campaigns/migrations/0002_referral_roles.py)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

MODELS = [
    "referralprogramme", "referralreward", "referrer", "partner", "partnercodepool", "partnercode", "partneroffer",
    "partnerofferissue",
]  # fmt: skip
VIEW = {f"view_{model}" for model in MODELS}
MANAGED = ["partner", "partnercodepool", "partneroffer"]
EXPECTED = {
    STORE_STAFF: {
        "view_referralprogramme", "view_referralreward", "view_referrer", "view_partner", "view_partneroffer",
        "view_partnerofferissue", "accept_partner_code",
    },
    MARKETING: VIEW | {"change_referralprogramme", "add_partnercode", "view_partner_report"}
    | {f"{a}_{m}" for m in MANAGED for a in ("add", "change")},
    SUPPORT: {"view_referralprogramme", "view_referralreward", "view_referrer"},
    MANAGER: VIEW | {"change_referralprogramme", "add_partnercode", "delete_partnercode", "view_partner_report"}
    | {"accept_partner_code"} | {f"{a}_{m}" for m in MANAGED for a in ("add", "change", "delete")},
}  # fmt: skip
OURS = {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")} | {
    "accept_partner_code",
    "view_partner_report",
}


def permissions_of(role):
    group = Group.objects.get(name=role)
    codenames = group.permissions.filter(content_type__app_label="campaigns").values_list("codename", flat=True)
    return set(codenames) & OURS  # other campaigns permissions are pinned by their own tests


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_referral_and_partner_permissions(role):
    assert permissions_of(role) == EXPECTED[role]


def test_nobody_writes_referral_rewards_or_offer_issues_by_hand():
    written_by_services = {
        f"{a}_{m}" for m in ("referralreward", "partnerofferissue") for a in ("add", "change", "delete")
    }
    for role in ROLES:
        assert permissions_of(role) & written_by_services == set()


def test_only_marketing_and_managers_change_the_programme_and_read_the_report():
    for codename in ("change_referralprogramme", "view_partner_report", "add_partnercode"):
        assert {role for role in ROLES if codename in permissions_of(role)} == {MARKETING, MANAGER}
