"""Offers and results: Marketing and Managers set a campaign's offer and see what was given and
opened (results themselves need only view_campaign); store staff and support get nothing."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

GRANTS = {
    MARKETING: [
        "view_campaignoffer", "add_campaignoffer", "change_campaignoffer", "delete_campaignoffer",
        "view_offergrant", "view_messageengagement",
    ],
    MANAGER: [
        "view_campaignoffer", "add_campaignoffer", "change_campaignoffer", "delete_campaignoffer",
        "view_offergrant", "view_messageengagement",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_results")]
    operations = [migrations.RunPython(forwards, backwards)]
