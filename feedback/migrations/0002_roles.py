"""Give the staff roles their permissions on feedback tickets."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

MODELS = ["ticket", "ticketevent", "attachment"]
GRANTS = {
    SUPPORT: ["view_ticket", "add_ticket", "change_ticket", "view_ticketevent", "add_ticketevent", "view_attachment"],
    MANAGER: [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")],
    # Store staff take complaints at the counter.
    STORE_STAFF: ["view_ticket", "add_ticket"],
    MARKETING: ["view_ticket"],
}


def forwards(apps, schema_editor):
    grant(apps, "feedback", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "feedback", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
        ("members", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
