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
# Designed surveys and topics (issue 19): managers and marketing design surveys and read their
# results; support and managers answer them by phone with members and set topics on tickets.
SURVEY_DESIGN = {f"{a}_{m}" for m in ("survey", "surveyquestion") for a in CRUD} | {
    "view_surveyversion", "view_surveylink", "view_survey_results",
}  # fmt: skip
EXPECTED[MANAGER] |= (
    SURVEY_DESIGN | {"answer_survey_by_phone"} | {f"{a}_{m}" for m in ("topic", "tickettopic") for a in CRUD}
)
EXPECTED[MARKETING] |= SURVEY_DESIGN | {"view_surveyresponse"}
EXPECTED[SUPPORT] |= {"view_survey", "view_surveyquestion", "answer_survey_by_phone", "view_topic"} | {
    f"{a}_tickettopic" for a in CRUD
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


def test_only_managers_and_marketing_read_survey_results_and_only_support_and_managers_call():
    for role in ROLES:
        perms = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
        assert ("view_survey_results" in perms) == (role in (MANAGER, MARKETING))
        assert ("answer_survey_by_phone" in perms) == (role in (MANAGER, SUPPORT))
