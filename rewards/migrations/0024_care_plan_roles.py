"""Roles for care plans (issue 17): store staff sell plans; support handles claims (opens, settles,
rejects); managers all of it, the plans themselves and the report. Everyone reads the plans."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_careplan", "view_careplansale", "add_careplansale", "view_careplanclaim"],
    MARKETING: ["view_careplan"],
    SUPPORT: ["view_careplan", "view_careplansale", "view_careplanclaim", "add_careplanclaim", "change_careplanclaim"],
    MANAGER: [
        "view_careplan",
        "add_careplan",
        "change_careplan",
        "view_careplansale",
        "add_careplansale",
        "view_careplanclaim",
        "add_careplanclaim",
        "change_careplanclaim",
        "view_care_plan_report",
    ],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0023_care_plans")]
    operations = [migrations.RunPython(forwards, backwards)]
