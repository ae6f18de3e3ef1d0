"""Create the staff roles and give them their permissions on customer profiles."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

MODELS = [
    "member", "store", "category", "product", "tag", "consent", "consentevent", "purchase",
    "purchaseitem", "servicerecord", "preference", "interaction", "historicalmember",
]
GRANTS = {
    STORE_STAFF: [
        "view_member", "add_member", "change_member",
        "view_store", "view_category", "view_product", "view_tag", "add_tag",
        "view_consent", "view_consentevent",
        "view_purchase", "add_purchase", "view_purchaseitem", "add_purchaseitem",
        "view_servicerecord", "add_servicerecord", "change_servicerecord",
        "view_preference", "add_preference", "change_preference", "delete_preference",
        "view_interaction", "add_interaction",
    ],
    MARKETING: [
        "view_member", "view_store", "view_category", "view_product", "view_tag",
        "view_consent", "view_consentevent", "view_purchase", "view_purchaseitem",
        "view_preference", "view_interaction", "add_interaction",
    ],
    SUPPORT: [
        "view_member", "view_store", "view_category", "view_product", "view_tag",
        "view_consent", "view_consentevent", "view_purchase", "view_purchaseitem",
        "view_servicerecord", "add_servicerecord", "change_servicerecord",
        "view_preference", "view_interaction", "add_interaction",
    ],
    MANAGER: [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]
    + ["export_member", "erase_member", "import_members"],
}


def forwards(apps, schema_editor):
    grant(apps, "members", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "members", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
