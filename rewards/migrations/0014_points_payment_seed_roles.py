"""Paying with points: the one settings row with its defaults (100 points = ¥1, at most 50% of an
order, at least 100 points at once, not for delivery); every role reads it, managers change it."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_pointspaymentsettings"],
    MARKETING: ["view_pointspaymentsettings"],
    SUPPORT: ["view_pointspaymentsettings"],
    MANAGER: ["view_pointspaymentsettings", "change_pointspaymentsettings"],
}


def forwards(apps, schema_editor):
    apps.get_model("rewards", "PointsPaymentSettings").objects.get_or_create(pk=1)
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0013_till_points_payment_coupon_returns")]
    operations = [migrations.RunPython(forwards, backwards)]
