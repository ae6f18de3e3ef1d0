import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

CRUD = ("view", "add", "change", "delete")
EXPECTED = {
    SUPPORT: {"view_ticket", "add_ticket", "change_ticket", "view_ticketevent", "add_ticketevent", "view_attachment"}
    # Support work tickets to the targets and read the KPIs; they do not set targets or teams.
    | {"view_team", "view_slatarget", "view_kpitarget", "view_servicekpi", "view_surveyresponse"}
    # They see why tickets are prioritised and when teams work (issue 19); managers set both.
    | {"view_businesscalendar", "view_priorityrule"},
    MANAGER: {f"{a}_{m}" for m in ("ticket", "ticketevent", "attachment") for a in CRUD}
    | {f"{a}_{m}" for m in ("team", "slatarget", "kpitarget", "businesscalendar", "priorityrule") for a in CRUD}
    | {"view_servicekpi", "view_surveyresponse"},
    STORE_STAFF: {"view_ticket", "add_ticket"},
    MARKETING: {"view_ticket"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_feedback_permissions(role):
    group = Group.objects.get(name=role)
    perms = set(group.permissions.filter(content_type__app_label="feedback").values_list("codename", flat=True))
    assert perms == EXPECTED[role]


def test_nobody_may_add_or_change_survey_answers():
    for role in ROLES:
        perms = set(
            Group.objects.get(name=role)
            .permissions.filter(content_type__app_label="feedback", codename__endswith="_surveyresponse")
            .values_list("codename", flat=True)
        )
        assert perms <= {"view_surveyresponse"}
