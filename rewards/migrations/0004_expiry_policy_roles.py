"""Every role reads the expiry policy; managers change it (deleting is not offered)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_expirypolicy"],
    MARKETING: ["view_expirypolicy"],
    SUPPORT: ["view_expirypolicy"],
    MANAGER: ["view_expirypolicy", "add_expirypolicy", "change_expirypolicy"],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0003_expiry_policy_and_nightly_task")]
    operations = [migrations.RunPython(forwards, backwards)]
