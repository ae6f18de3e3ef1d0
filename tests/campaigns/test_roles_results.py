"""The staff roles hold exactly these permissions on offers and engagement (campaigns/migrations/0004_results_roles)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

MODELS = ["campaignoffer", "offergrant", "messageengagement", "campaignkpitarget"]
CODENAMES = {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")}
OFFERS = {
    "view_campaignoffer", "add_campaignoffer", "change_campaignoffer", "delete_campaignoffer",
    "view_offergrant", "view_messageengagement",
}  # fmt: skip
KPI_ALL = {f"{a}_campaignkpitarget" for a in ("view", "add", "change", "delete")}
EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: OFFERS | {"view_campaignkpitarget"},
    MANAGER: OFFERS | KPI_ALL,
}


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_offer_permissions(role):
    group = Group.objects.get(name=role)
    held = set(
        group.permissions.filter(content_type__app_label="campaigns", codename__in=CODENAMES).values_list(
            "codename", flat=True
        )
    )
    assert held == EXPECTED[role]
