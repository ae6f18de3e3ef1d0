"""The post-resolution satisfaction survey automation, switched off like the others (its
campaign is made when it is first configured). Existing roles already cover it."""

import django.core.validators
from django.db import migrations, models


def forwards(apps, schema_editor):
    Automation = apps.get_model("campaigns", "Automation")
    Automation.objects.get_or_create(
        kind="satisfaction_survey", holiday="", defaults={"days_before": 3, "enabled": False}
    )


def backwards(apps, schema_editor):
    Automation = apps.get_model("campaigns", "Automation")
    found = Automation.objects.filter(kind="satisfaction_survey").first()
    if found is None:
        return
    campaign_id = found.campaign_id
    found.delete()
    if campaign_id:
        apps.get_model("campaigns", "Campaign").objects.filter(pk=campaign_id).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0006_merge_20261123_2225"),
    ]

    operations = [
        migrations.AlterField(
            model_name="automation",
            name="days_before",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Birthday, points expiry, holiday: how many days before the date the message goes out. Win-back: how many days after becoming lapsed a member is still greeted. Welcome follow-up: how many days after sign-up it goes out. Satisfaction survey: how many days after the ticket was resolved it goes out.",
                validators=[django.core.validators.MaxValueValidator(90)],
                verbose_name="days",
            ),
        ),
        migrations.AlterField(
            model_name="automation",
            name="kind",
            field=models.CharField(
                choices=[
                    ("birthday", "Birthday"),
                    ("win_back", "Win-back of lapsed members"),
                    ("points_expiry", "Points-expiry reminder"),
                    ("tier_upgrade", "Tier upgrade congratulation"),
                    ("holiday", "Holiday greeting"),
                    ("welcome", "Welcome: first message"),
                    ("welcome_follow_up", "Welcome: follow-up"),
                    ("renewal_reminder", "Paid-membership renewal reminder"),
                    ("satisfaction_survey", "Satisfaction survey after a resolved ticket"),
                ],
                max_length=20,
                verbose_name="trigger",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
