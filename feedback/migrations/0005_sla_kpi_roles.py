"""Roles for teams, service-level targets, surveys and KPIs.

Support work tickets to the targets and read the KPI page; managers also set the targets,
the teams and the KPI targets.
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, SUPPORT, grant, revoke

EDITABLE = ["team", "slatarget", "kpitarget"]
GRANTS = {
    SUPPORT: ["view_team", "view_slatarget", "view_kpitarget", "view_servicekpi", "view_surveyresponse"],
    MANAGER: [f"{action}_{model}" for model in EDITABLE for action in ("view", "add", "change", "delete")]
    + ["view_servicekpi", "view_surveyresponse"],
}


def forwards(apps, schema_editor):
    grant(apps, "feedback", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "feedback", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0004_sla_defaults_and_breach_task"), ("feedback", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
