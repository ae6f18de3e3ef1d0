"""Message templates: Marketing keeps them (they choose what a campaign sends); Managers too.
Early delivery receipts are written only by the receipt hooks: both may look at them."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

GRANTS = {
    MARKETING: [
        "view_messagetemplate", "add_messagetemplate", "change_messagetemplate", "delete_messagetemplate",
        "view_earlyreceipt",
    ],
    MANAGER: [
        "view_messagetemplate", "add_messagetemplate", "change_messagetemplate", "delete_messagetemplate",
        "view_earlyreceipt",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0013_channels_templates_budget")]
    operations = [migrations.RunPython(forwards, backwards)]
