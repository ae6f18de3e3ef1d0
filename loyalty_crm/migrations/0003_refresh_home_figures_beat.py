"""Schedule the home page's shared figures to be recomputed every four minutes, before they expire
(loyalty_crm.tasks.refresh_home_figures; loyalty_crm.home.REFRESH_SECONDS)."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Refresh the home page figures (every 4 minutes)"
TASK = "loyalty_crm.refresh_home_figures"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every, _created = IntervalSchedule.objects.get_or_create(every=240, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        # A run still queued when the next is due is dropped: the next one recomputes anyway.
        defaults={"task": TASK, "interval": every, "crontab": None, "enabled": True, "expire_seconds": 240},
    )
    # Tell a running beat (DatabaseScheduler) that the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty_crm", "0002_prune_signin_logs_nightly"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
