"""Recurring campaigns: Marketing and Managers see a campaign's runs (written only by the beat's task)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

GRANTS = {
    MARKETING: ["view_campaignoccurrence"],
    MANAGER: ["view_campaignoccurrence"],
}


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_recurring")]
    operations = [migrations.RunPython(forwards, backwards)]
