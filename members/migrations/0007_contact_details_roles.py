"""Store staff, Support and Managers may see one member's contact details in clear; Marketing not."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, STORE_STAFF, SUPPORT, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_contact_details"],
    SUPPORT: ["view_contact_details"],
    MANAGER: ["view_contact_details", "view_contactdetailview"],
}


def forwards(apps, schema_editor):
    grant(apps, "members", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "members", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("members", "0006_contact_detail_views")]
    operations = [migrations.RunPython(forwards, backwards)]
