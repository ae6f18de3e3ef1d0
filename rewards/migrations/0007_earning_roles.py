"""Roles for earning rules, promotions, limits, activity bonuses and paid membership.

Every role reads them. Store staff sell memberships. Marketing runs promotions (add, change).
Managers edit rules, promotions, limits, bonuses and plans, sell and cancel memberships and award
bonuses by hand. Bonus awards are written only by the service (no add/change/delete for anyone).
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

MODELS = ["promotion", "earningsettings", "activitybonus", "bonusaward", "membershipplan", "membershipsubscription"]
VIEW = [f"view_{model}" for model in MODELS]
GRANTS = {
    STORE_STAFF: [*VIEW, "add_membershipsubscription"],
    MARKETING: [*VIEW, "add_promotion", "change_promotion"],
    SUPPORT: VIEW,
    MANAGER: [
        *VIEW,
        "add_promotion",
        "change_promotion",
        "delete_promotion",
        "change_earningsettings",
        "change_activitybonus",
        "award_bonus",
        "add_membershipplan",
        "change_membershipplan",
        "add_membershipsubscription",
        "change_membershipsubscription",
    ],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0006_earning_seed")]
    operations = [migrations.RunPython(forwards, backwards)]
