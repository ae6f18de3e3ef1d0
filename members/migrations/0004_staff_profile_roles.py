"""Managers see every store's reports; Marketing and Support too (they work across stores)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, SUPPORT, grant, revoke

GRANTS = {
    MANAGER: ["view_staffprofile", "add_staffprofile", "change_staffprofile", "delete_staffprofile", "view_all_stores"],
    MARKETING: ["view_all_stores"],
    SUPPORT: ["view_all_stores"],
}


def forwards(apps, schema_editor):
    grant(apps, "members", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "members", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("members", "0003_staff_profile")]
    operations = [migrations.RunPython(forwards, backwards)]
