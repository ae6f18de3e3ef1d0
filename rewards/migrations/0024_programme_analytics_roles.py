"""Managers see the programme analytics and edit their assumptions (cost of a point, margin, cost of
a message): one row, which they add once and then change."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {
    MANAGER: [
        "view_programme_analytics",
        "view_programmeassumptions",
        "add_programmeassumptions",
        "change_programmeassumptions",
    ],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0023_programme_assumptions")]
    operations = [migrations.RunPython(forwards, backwards)]
