"""The seeds' service standards as the default service-level targets, and the beat task that flags breaches.

Seeds: "online service answers within 30 seconds, the phone is answered within three rings" (≈ 15 s).
Written forms and email get 4 hours for a first answer and 48 hours to resolve; urgent and high
priority are shorter. All rows are editable in the admin (Feedback → Service-level targets).
"""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
# (kind, channel, priority, first response, resolution); "" = any.
DEFAULTS = [
    ("", "", "", 4 * H, 48 * H),
    ("", "", "high", 2 * H, 24 * H),
    ("", "", "urgent", 1 * H, 8 * H),
    ("", "wechat", "", 30 * S, 24 * H),
    ("", "wechat", "urgent", 30 * S, 8 * H),
    ("", "phone", "", 15 * S, 24 * H),
    ("", "phone", "urgent", 15 * S, 8 * H),
]
TASK_NAME = "Flag SLA breaches (every minute)"
TASK = "feedback.flag_sla_breaches"


def forwards(apps, schema_editor):
    SlaTarget = apps.get_model("feedback", "SlaTarget")
    for kind, channel, priority, first_response, resolution in DEFAULTS:
        SlaTarget.objects.get_or_create(
            kind=kind,
            channel=channel,
            priority=priority,
            defaults={"first_response": first_response, "resolution": resolution},
        )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _created = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={"task": TASK, "interval": every_minute, "crontab": None, "enabled": True},
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()
    SlaTarget = apps.get_model("feedback", "SlaTarget")
    for kind, channel, priority, _first, _resolution in DEFAULTS:
        SlaTarget.objects.filter(kind=kind, channel=channel, priority=priority).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0003_sla_teams_surveys_kpis"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
