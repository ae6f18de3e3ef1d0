"""Every role reads the tier policy; managers change it (it is a single row: no adding or deleting)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_tierpolicy"],
    MARKETING: ["view_tierpolicy"],
    SUPPORT: ["view_tierpolicy"],
    MANAGER: ["view_tierpolicy", "change_tierpolicy"],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0005_tiers_policy")]
    operations = [migrations.RunPython(forwards, backwards)]
