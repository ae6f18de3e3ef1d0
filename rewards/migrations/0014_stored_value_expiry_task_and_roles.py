"""Roles for stored value (储值卡) and the nightly expiry of dated top-up bonuses.

Store staff see balances, top-ups, rules and gifts, top up, sell and hand over gifts, and take
payments from the balance. Support sees them. Marketing sees the top-up rules. Managers do all of
that, edit the top-up rules, adjust and cash out balances and read the liability report. Nobody
adds, changes or deletes ledger rows, accounts, top-ups or gifts by hand: only the services write
them.
"""

from django.db import migrations
from django.utils import timezone

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

VIEW = [
    "view_storedvalueaccount",
    "view_storedvalueentry",
    "view_storedvaluebonuslot",
    "view_topuprule",
    "view_topup",
    "view_storedvaluegift",
]
GRANTS = {
    STORE_STAFF: [*VIEW, "top_up_stored_value", "pay_stored_value"],
    MARKETING: ["view_topuprule"],
    SUPPORT: VIEW,
    MANAGER: [
        *VIEW,
        "top_up_stored_value",
        "pay_stored_value",
        "adjust_stored_value",
        "cash_out_stored_value",
        "view_stored_value_liability",
        "add_topuprule",
        "change_topuprule",
    ],
}
TASK_NAME = "Expire stored-value bonuses (nightly)"
TASK = "rewards.expire_stored_value_bonuses"


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute="40", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME, defaults={"task": TASK, "crontab": schedule, "interval": None, "enabled": True}
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("rewards", "0013_stored_value"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
