"""The staff roles hold exactly these permissions on dispatch's models (campaigns/migrations/0002_dispatch_roles)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

MODELS = ["campaign", "campaignstep", "outboxmessage", "contactpolicy", "smslog"]
EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: {
        "view_campaign", "add_campaign", "change_campaign", "launch_campaign", "view_campaignstep",
        "view_outboxmessage",
    },
    MANAGER: {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")} | {"launch_campaign"},
}  # fmt: skip
CODENAMES = {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")} | {"launch_campaign"}


def permissions_of(role):
    group = Group.objects.get(name=role)
    return set(
        group.permissions.filter(content_type__app_label="campaigns", codename__in=CODENAMES).values_list(
            "codename", flat=True
        )
    )


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_dispatch_permissions(role):
    assert permissions_of(role) == EXPECTED[role]


def test_only_managers_see_or_change_the_contact_policy_and_sms_log():
    for role in ROLES:
        held = permissions_of(role) & {"view_contactpolicy", "change_contactpolicy", "view_smslog"}
        assert bool(held) == (role == MANAGER)
