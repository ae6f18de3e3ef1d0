"""The staff roles' permissions on message templates and early receipts
(campaigns/migrations/0014_channels_templates_roles)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

TEMPLATES = {"view_messagetemplate", "add_messagetemplate", "change_messagetemplate", "delete_messagetemplate"}
EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: TEMPLATES | {"view_earlyreceipt"},
    MANAGER: TEMPLATES | {"view_earlyreceipt"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_template_permissions(role):
    group = Group.objects.get(name=role)
    held = set(
        group.permissions.filter(
            content_type__app_label="campaigns", content_type__model__in=["messagetemplate", "earlyreceipt"]
        ).values_list("codename", flat=True)
    )
    assert held == EXPECTED[role]
