"""The contact policy's single row with the defaults, and the two every-minute beat tasks of dispatch."""

from django.db import migrations
from django.utils import timezone

TASKS = {
    "Start due campaigns (every minute)": "campaigns.start_due_campaigns",
    "Recover campaign outbox leases and resume sending (every minute)": "campaigns.recover_expired_leases",
}


def forwards(apps, schema_editor):
    import datetime

    ContactPolicy = apps.get_model("campaigns", "ContactPolicy")
    ContactPolicy.objects.get_or_create(
        pk=1,
        defaults={
            "quiet_hours_start": datetime.time(21, 0),
            "quiet_hours_end": datetime.time(9, 0),
            "timezone": "Asia/Shanghai",
            "frequency_cap_messages": 4,
            "frequency_cap_days": 30,
            "email_rate": 20,
            "sms_rate": 10,
        },
    )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _created = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    for name, task in TASKS.items():
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "interval": every_minute, "crontab": None, "enabled": True}
        )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=list(TASKS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_dispatch"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
