"""Who may do what with segments and scores.

Marketing builds segments (add, change, view, export; deleting is left to managers), reads the
member scores, the runs and the policy. Managers may do everything, including the policy. Store
staff and support get nothing here: segments and scores are marketing's tools.
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, grant, revoke

GRANTS = {
    MARKETING: [
        "view_segment",
        "add_segment",
        "change_segment",
        "export_segment",
        "view_memberscore",
        "view_classificationrun",
        "view_classificationpolicy",
    ],
    MANAGER: [
        "view_segment",
        "add_segment",
        "change_segment",
        "delete_segment",
        "export_segment",
        "view_memberscore",
        "view_classificationrun",
        "view_classificationpolicy",
        "change_classificationpolicy",
    ],
}


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_segments_models")]
    operations = [migrations.RunPython(forwards, backwards)]
