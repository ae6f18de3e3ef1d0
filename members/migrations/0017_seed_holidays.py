"""The seeded Chinese holiday calendar (names in English, translated when shown): what marketing
greets, with lead days, and the public holidays (days off) support's business hours skip.
Qingming is fixed on 5 April here (it falls on 4–6 April); managers edit any of it in the admin."""

from django.db import migrations

HOLIDAYS = [
    # code, name, rule, month, day, weekday, lead days, days off
    ("new_year", "New Year's Day", "fixed", 1, 1, None, 7, 1),
    ("spring_festival", "Spring Festival", "lunar", 1, 1, None, 14, 3),
    ("lantern", "Lantern Festival", "lunar", 1, 15, None, 5, 0),
    ("valentines", "Valentine's Day", "fixed", 2, 14, None, 7, 0),
    ("womens_day", "Women's Day", "fixed", 3, 8, None, 5, 0),
    ("qingming", "Qingming Festival", "fixed", 4, 5, None, 5, 1),
    ("labour_day", "Labour Day", "fixed", 5, 1, None, 7, 1),
    ("mothers_day", "Mother's Day", "nth_weekday", 5, 2, 6, 7, 0),
    ("day_520", "520 (I love you)", "fixed", 5, 20, None, 7, 0),
    ("dragon_boat", "Dragon Boat Festival", "lunar", 5, 5, None, 5, 1),
    ("fathers_day", "Father's Day", "nth_weekday", 6, 3, 6, 7, 0),
    ("qixi", "Qixi Festival", "lunar", 7, 7, None, 7, 0),
    ("teachers_day", "Teachers' Day", "fixed", 9, 10, None, 5, 0),
    ("mid_autumn", "Mid-Autumn Festival", "lunar", 8, 15, None, 10, 1),
    ("national_day", "National Day", "fixed", 10, 1, None, 7, 3),
    ("double_ninth", "Double Ninth Festival", "lunar", 9, 9, None, 5, 0),
    ("christmas", "Christmas", "fixed", 12, 25, None, 7, 0),
]


def forwards(apps, schema_editor):
    Holiday = apps.get_model("members", "Holiday")
    for code, name, rule, month, day, weekday, lead, off in HOLIDAYS:
        Holiday.objects.get_or_create(
            code=code,
            defaults={"name": name, "rule": rule, "month": month, "day": day, "weekday": weekday,
                      "lead_days": lead, "days_off": off},
        )  # fmt: skip


def backwards(apps, schema_editor):
    apps.get_model("members", "Holiday").objects.filter(code__in=[h[0] for h in HOLIDAYS]).delete()


class Migration(migrations.Migration):
    dependencies = [("members", "0016_holiday_calendar")]
    operations = [migrations.RunPython(forwards, backwards)]
