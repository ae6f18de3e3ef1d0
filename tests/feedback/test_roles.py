import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

EXPECTED = {
    SUPPORT: {"view_ticket", "add_ticket", "change_ticket", "view_ticketevent", "add_ticketevent", "view_attachment"},
    MANAGER: {f"{a}_{m}" for m in ("ticket", "ticketevent", "attachment") for a in ("view", "add", "change", "delete")},
    STORE_STAFF: {"view_ticket", "add_ticket"},
    MARKETING: {"view_ticket"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_feedback_permissions(role):
    group = Group.objects.get(name=role)
    perms = set(group.permissions.filter(content_type__app_label="feedback").values_list("codename", flat=True))
    assert perms == EXPECTED[role]
