"""Managers see sign-in attempts and lockouts, and lift a lockout by deleting its attempts."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {
    MANAGER: ["view_accessattempt", "delete_accessattempt", "view_accesslog", "view_accessfailurelog"],
}


def forwards(apps, schema_editor):
    grant(apps, "axes", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "axes", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("axes", "0010_accessattemptexpiration"), ("members", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
