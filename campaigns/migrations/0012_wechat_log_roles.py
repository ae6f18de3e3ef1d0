"""Managers read the development WeChat log, as they read the SMS log (the log is read-only)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {MANAGER: ["view_wechatlog"]}


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0011_wechat_log")]
    operations = [migrations.RunPython(forwards, backwards)]
