"""The seeds' defaults: four tiers by cumulative spend, 1 point per yuan paid; role permissions."""

from decimal import Decimal

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

TIERS = [
    # code, name (English; translated when shown), rank, threshold, discount %, free delivery, benefits
    ("regular", "Regular", 0, "0.00", "10.00", False, "10% off"),
    ("silver", "Silver", 1, "1000.00", "15.00", False, "15% off"),
    ("gold", "Gold", 2, "5000.00", "20.00", False, "20% off"),
    ("diamond", "Diamond", 3, "20000.00", "25.00", True, "25% off, free delivery"),
]

MODELS = [
    "tier", "pointsaccount", "ledgerentry", "pointslot", "tierhistory", "earnrule", "purchaseposting",
    "purchaserefund",
]
VIEW_ALL = [f"view_{model}" for model in MODELS]
GRANTS = {
    STORE_STAFF: [*VIEW_ALL, "add_purchaseposting", "add_purchaserefund"],
    MARKETING: VIEW_ALL,
    SUPPORT: VIEW_ALL,
    MANAGER: [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]
    + ["adjust_points"],
}  # fmt: skip


def forwards(apps, schema_editor):
    Tier = apps.get_model("rewards", "Tier")
    for code, name, rank, threshold, discount, free_delivery, benefits in TIERS:
        Tier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "threshold": Decimal(threshold),
                "discount_percent": Decimal(discount),
                "free_delivery": free_delivery,
                "benefits": benefits,
            },
        )
    EarnRule = apps.get_model("rewards", "EarnRule")
    if not EarnRule.objects.filter(kind="base").exists():
        EarnRule.objects.create(name="1 point per 1 yuan paid", kind="base", rate=Decimal("1.00"), is_active=True)
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0001_initial"),
        ("members", "0002_roles"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
