"""Campaign permissions of the roles: Marketing writes and launches campaigns and reads their
outbox; Managers hold everything, the contact policy and the SMS log included; the others none."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

MODELS = ["campaign", "campaignstep", "outboxmessage", "contactpolicy", "smslog"]
GRANTS = {
    MARKETING: [
        "view_campaign", "add_campaign", "change_campaign", "launch_campaign",
        "view_campaignstep", "view_outboxmessage",
    ],
    MANAGER: [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]
    + ["launch_campaign"],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_dispatch_policy_beat")]
    operations = [migrations.RunPython(forwards, backwards)]
