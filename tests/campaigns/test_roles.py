"""The staff roles hold exactly these `campaigns` permissions (from campaigns' data migrations)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT
from tests.campaigns.test_automations import EXPECTED as AUTOMATIONS_EXPECTED
from tests.campaigns.test_events_views import EXPECTED as EVENTS_EXPECTED
from tests.campaigns.test_roles_channels import EXPECTED as CHANNELS_EXPECTED
from tests.campaigns.test_roles_dispatch import EXPECTED as DISPATCH_EXPECTED
from tests.campaigns.test_roles_recurring import EXPECTED as RECURRING_EXPECTED
from tests.campaigns.test_roles_referral import EXPECTED as REFERRAL_EXPECTED
from tests.campaigns.test_roles_results import EXPECTED as RESULTS_EXPECTED

pytestmark = pytest.mark.django_db

READ = {"view_segment", "view_memberscore", "view_classificationrun", "view_classificationpolicy"}
EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: READ | {"add_segment", "change_segment", "export_segment"},
    MANAGER: READ
    | {"add_segment", "change_segment", "delete_segment", "export_segment", "change_classificationpolicy"},
}


def permissions_of(role):
    group = Group.objects.get(name=role)
    return set(group.permissions.filter(content_type__app_label="campaigns").values_list("codename", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_campaigns_permissions(role):
    """Segments and classification here; campaigns and dispatch in test_roles_dispatch; referral and
    partners in test_roles_referral; automations in test_automations; offers and engagement in
    test_roles_results; runs of recurring campaigns in test_roles_recurring: together, every
    campaigns permission the role holds."""
    assert permissions_of(role) == (
        EXPECTED[role]
        | DISPATCH_EXPECTED[role]
        | REFERRAL_EXPECTED[role]
        | AUTOMATIONS_EXPECTED[role]
        | RESULTS_EXPECTED[role]
        | RECURRING_EXPECTED[role]
        | CHANNELS_EXPECTED[role]
        | EVENTS_EXPECTED[role]
        | ({"view_wechatlog"} if role == MANAGER else set())  # campaigns/migrations/0012_wechat_log_roles
    )


def test_nobody_edits_scores_or_runs_by_hand():
    for role in ROLES:
        assert not {p for p in permissions_of(role) if p.endswith(("memberscore", "classificationrun"))} - {
            "view_memberscore",
            "view_classificationrun",
        }


def test_only_managers_change_the_policy_or_delete_segments():
    assert [r for r in ROLES if "change_classificationpolicy" in permissions_of(r)] == [MANAGER]
    assert [r for r in ROLES if "delete_segment" in permissions_of(r)] == [MANAGER]
