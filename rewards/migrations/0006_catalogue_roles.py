"""Roles for the reward catalogue, redemptions and coupons.

Store staff redeem rewards and accept coupons at the counter; marketing issues coupons; support
reads; managers do everything, including cancelling redemptions and voiding coupons.
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

MODELS = ["reward", "coupontemplate", "coupon", "redemption"]
VIEW = [f"view_{model}" for model in MODELS]
GRANTS = {
    STORE_STAFF: [*VIEW, "add_redemption", "redeem_coupon"],
    MARKETING: [*VIEW, "issue_coupon"],
    SUPPORT: VIEW,
    MANAGER: [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]
    + ["issue_coupon", "redeem_coupon", "void_coupon", "cancel_redemption"],
}


def forwards(apps, schema_editor):
    grant(apps, "rewards", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "rewards", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0005_catalogue_redemptions_coupons")]
    operations = [migrations.RunPython(forwards, backwards)]
