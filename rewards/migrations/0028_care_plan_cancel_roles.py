"""Roles: managers may cancel and refund a care plan sold before any claim (cancel_careplansale)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {MANAGER: ["cancel_careplansale"]}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0027_care_plan_sale_cancellation")]
    operations = [migrations.RunPython(forwards, backwards)]
