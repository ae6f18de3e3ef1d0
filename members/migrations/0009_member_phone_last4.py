"""The last four digits of each member's phone, for the till's "last 4 digits + pick" lookup."""

from django.db import migrations, models


def fill_last4(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    batch = []
    # The phone is encrypted at rest: read it through the field (decrypts), write the digits back.
    for member in Member.objects.exclude(phone_hash="").only("pk", "phone").iterator(chunk_size=2000):
        digits = "".join(ch for ch in (member.phone or "") if ch.isdigit())
        member.phone_last4 = digits[-4:]
        batch.append(member)
        if len(batch) >= 2000:
            Member.objects.bulk_update(batch, ["phone_last4"])
            batch = []
    if batch:
        Member.objects.bulk_update(batch, ["phone_last4"])


class Migration(migrations.Migration):
    dependencies = [("members", "0008_purchase_walk_in_points_returns")]
    operations = [
        migrations.AddField(
            model_name="member",
            name="phone_last4",
            field=models.CharField(
                blank=True,
                db_index=True,
                default="",
                editable=False,
                max_length=4,
                verbose_name="last four digits of the phone",
            ),
        ),
        migrations.AddField(
            model_name="historicalmember",
            name="phone_last4",
            field=models.CharField(
                blank=True,
                db_index=True,
                default="",
                editable=False,
                max_length=4,
                verbose_name="last four digits of the phone",
            ),
        ),
        migrations.RunPython(fill_last4, migrations.RunPython.noop),
    ]
