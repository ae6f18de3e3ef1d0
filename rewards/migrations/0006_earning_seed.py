"""Defaults for earning: no limits, the activity bonuses, an example paid plan, and the two beat tasks.

The seeds give no numbers for activity bonuses; these are our choice (README "Activity bonuses"):
sign-up 100 once ever, birthday 200 once a year, survey 20 and review 20 once a month, referral 200
per referred member, event attendance 50 once a month. The example plan "Annual plus" costs
199.00 yuan for 12 months: free delivery and 1.5× points.
"""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

BONUSES = [
    # kind, points, limit
    ("sign_up", 100, "once"),
    ("birthday", 200, "yearly"),
    ("survey", 20, "monthly"),
    ("review", 20, "monthly"),
    ("referral", 200, "per_reference"),
    ("event", 50, "monthly"),
]
PLAN = {
    "code": "annual-plus",
    "name": "Annual plus",
    "price": Decimal("199.00"),
    "duration_months": 12,
    "free_delivery": True,
    "points_multiplier": Decimal("1.50"),
    "member_only_rewards": True,
    "priority_booking": "Priority booking for workshops and member events",
    "is_active": True,
}
TASKS = [
    # name, task, minute, hour (Asia/Shanghai)
    ("Award birthday bonuses (nightly)", "rewards.award_birthday_bonuses", "5", "0"),
    ("Memberships: renewal reminders and expiry (daily)", "rewards.process_memberships", "15", "1"),
]


def forwards(apps, schema_editor):
    apps.get_model("rewards", "EarningSettings").objects.get_or_create(pk=1)
    ActivityBonus = apps.get_model("rewards", "ActivityBonus")
    for kind, points, limit in BONUSES:
        ActivityBonus.objects.get_or_create(kind=kind, defaults={"points": points, "limit": limit, "is_active": True})
    MembershipPlan = apps.get_model("rewards", "MembershipPlan")
    if not MembershipPlan.objects.exists():
        MembershipPlan.objects.create(**PLAN)
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, minute, hour in TASKS:
        schedule, _created = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
        )
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "crontab": schedule, "interval": None, "enabled": True}
        )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0005_earning_models"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
