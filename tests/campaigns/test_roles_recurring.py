"""The staff roles' permissions on recurring campaigns' runs (campaigns/migrations/0007_recurring_roles)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: {"view_campaignoccurrence"},
    MANAGER: {"view_campaignoccurrence"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_recurring_permissions(role):
    group = Group.objects.get(name=role)
    held = set(
        group.permissions.filter(
            content_type__app_label="campaigns", codename__endswith="campaignoccurrence"
        ).values_list("codename", flat=True)
    )
    assert held == EXPECTED[role]
