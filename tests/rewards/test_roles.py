"""The staff roles hold exactly these `rewards` permissions (from rewards' data migration)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

MODELS = [
    "tier", "pointsaccount", "ledgerentry", "pointslot", "tierhistory", "earnrule", "purchaseposting",
    "purchaserefund",
]  # fmt: skip
VIEW = {f"view_{model}" for model in MODELS} | {"view_expirypolicy", "view_tierpolicy"}
EXPECTED = {
    STORE_STAFF: VIEW | {"add_purchaseposting", "add_purchaserefund"},
    MARKETING: VIEW,
    SUPPORT: VIEW,
    MANAGER: {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")}
    | {"adjust_points", "view_expirypolicy", "add_expirypolicy", "change_expirypolicy"}
    | {"view_tierpolicy", "change_tierpolicy"},
}


def permissions_of(role):
    group = Group.objects.get(name=role)
    return set(group.permissions.filter(content_type__app_label="rewards").values_list("codename", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_rewards_permissions(role):
    assert permissions_of(role) == EXPECTED[role]


def test_only_managers_may_adjust_points():
    assert [role for role in ROLES if "adjust_points" in permissions_of(role)] == [MANAGER]


def test_only_managers_may_change_the_tier_policy():
    assert [role for role in ROLES if "change_tierpolicy" in permissions_of(role)] == [MANAGER]
    assert not any({"add_tierpolicy", "delete_tierpolicy"} & permissions_of(role) for role in ROLES)
