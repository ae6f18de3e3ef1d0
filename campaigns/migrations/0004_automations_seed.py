"""The automations (all switched off; each gets its campaign when first configured), their roles
and the daily beat task.

Marketing and Managers view and change automations (switch on/off, days, offer, templates) and
view their occurrences; nobody adds or deletes them (one per trigger, created here).
"""

from django.db import migrations
from django.utils import timezone

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

TASK_NAME = "Run automations (daily)"
TASK = "campaigns.run_automations"
GRANTS = {
    MARKETING: ["view_automation", "change_automation", "view_automationoccurrence"],
    MANAGER: ["view_automation", "change_automation", "view_automationoccurrence"],
}
# (kind, holiday, days before); each automation's campaign is made when it is first configured.
AUTOMATIONS = [
    ("birthday", "", 7),
    ("win_back", "", 30),
    ("points_expiry", "", 30),
    ("tier_upgrade", "", 0),
    ("holiday", "spring_festival", 0),
    ("holiday", "valentines", 0),
    ("holiday", "qixi", 0),
    ("holiday", "mothers_day", 0),
    ("holiday", "mid_autumn", 0),
    ("welcome", "", 0),
    ("welcome_follow_up", "", 7),
    ("renewal_reminder", "", 0),
]


def forwards(apps, schema_editor):
    Automation = apps.get_model("campaigns", "Automation")
    for kind, holiday, days in AUTOMATIONS:
        Automation.objects.get_or_create(kind=kind, holiday=holiday, defaults={"days_before": days, "enabled": False})
    grant(apps, "campaigns", GRANTS)
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute="0", hour="10", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME, defaults={"task": TASK, "crontab": schedule, "interval": None, "enabled": True}
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()
    revoke(apps, "campaigns", GRANTS)
    Automation = apps.get_model("campaigns", "Automation")
    campaign_ids = [pk for pk in Automation.objects.values_list("campaign_id", flat=True) if pk]
    Automation.objects.all().delete()
    apps.get_model("campaigns", "Campaign").objects.filter(pk__in=campaign_ids).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_automations"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
