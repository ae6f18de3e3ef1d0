"""The till's two permissions, both for Managers: changing a product's price at the counter and
refunding an amount without goods returned (with a reason). Store staff use the till and take
returns with the permissions they already hold (post purchases, add refunds). A coupon issued by
hand from the member's page records why (`issue_reason`)."""

from django.db import migrations, models

from loyalty_crm.roles import MANAGER, grant, revoke

GRANTS = {MANAGER: ["override_till_price", "refund_without_goods"]}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0017_merge_till_and_reason_codes")]
    operations = [
        migrations.AlterModelOptions(
            name="purchaseposting",
            options={
                "ordering": ["-id"],
                "permissions": [("override_till_price", "Can change a product's price at the till")],
                "verbose_name": "purchase posting",
                "verbose_name_plural": "purchase postings",
            },
        ),
        migrations.AlterModelOptions(
            name="purchaserefund",
            options={
                "ordering": ["-id"],
                "permissions": [("refund_without_goods", "Can refund an amount without goods returned")],
                "verbose_name": "refund",
                "verbose_name_plural": "refunds",
            },
        ),
        migrations.AddField(
            model_name="coupon",
            name="issue_reason",
            field=models.CharField(
                blank=True, help_text="Why staff issued it by hand.", max_length=200, verbose_name="reason for issuing"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
