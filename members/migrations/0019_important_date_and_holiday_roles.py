"""Who may keep important dates (staff on the member page) and edit the holiday calendar
(managers; marketing reads it, as its greetings follow it)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

DATES = ["view_importantdate", "add_importantdate", "change_importantdate", "delete_importantdate"]
HOLIDAYS = ["view_holiday", "add_holiday", "change_holiday", "delete_holiday"]
GRANTS = {
    STORE_STAFF: DATES,
    MARKETING: ["view_importantdate", "view_holiday"],
    SUPPORT: ["view_importantdate"],
    MANAGER: DATES + HOLIDAYS,
}


def forwards(apps, schema_editor):
    grant(apps, "members", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "members", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("members", "0018_important_dates")]
    operations = [migrations.RunPython(forwards, backwards)]
