"""Roles for the referral programme and partner marketing.

Everyone on the shop floor sees the referral programme, its rewards and the referrers; store
staff also see partners and offers and accept partner codes at the till. Marketing runs the
referral programme and the partners (partners, offers, code pools, code imports) and reads the
partner report. Managers may do all of that, delete partners' rows nobody used, and accept codes.
Referral rewards and offer issues are written only by the services (nobody adds or changes them).
Support sees referral rewards, to answer customers.
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT, grant, revoke

MODELS = [
    "referralprogramme", "referralreward", "referrer", "partner", "partnercodepool", "partnercode", "partneroffer",
    "partnerofferissue",
]  # fmt: skip
VIEW = [f"view_{model}" for model in MODELS]
MANAGED = ["partner", "partnercodepool", "partneroffer"]
GRANTS = {
    STORE_STAFF: [
        "view_referralprogramme", "view_referralreward", "view_referrer", "view_partner", "view_partneroffer",
        "view_partnerofferissue", "accept_partner_code",
    ],
    MARKETING: [
        *VIEW, "change_referralprogramme", *[f"{a}_{m}" for m in MANAGED for a in ("add", "change")],
        "add_partnercode", "view_partner_report",
    ],
    SUPPORT: ["view_referralprogramme", "view_referralreward", "view_referrer"],
    MANAGER: [
        *VIEW, "change_referralprogramme", *[f"{a}_{m}" for m in MANAGED for a in ("add", "change", "delete")],
        "add_partnercode", "delete_partnercode", "view_partner_report", "accept_partner_code",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_referral")]
    operations = [migrations.RunPython(forwards, backwards)]
