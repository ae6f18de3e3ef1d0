"""Managers read the balance corrections (written only by `recompute_balances --fix`; nobody adds,
changes or deletes them by hand)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {MANAGER: ["view_balancecorrection"]}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0011_balance_corrections")]
    operations = [migrations.RunPython(forwards, backwards)]
