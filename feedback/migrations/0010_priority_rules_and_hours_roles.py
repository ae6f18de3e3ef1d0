"""Roles for business hours and priority rules, and the default rules (issue 19).

Managers set the priority rules and the teams' business hours; support see both (the queue
shows why a ticket is prioritised, and a ticket's deadlines follow its team's hours).

Default rules, from the seeds ("高价值客户…优先服务通道", "专属的客户服务团队"): Diamond members
urgent, Gold members, high-value customers and paid members high (the first three VIP: the
member-service team gets them once one is set); suggestions and praise low, so a complaint comes
before a suggestion. Names are stored in English and translated when shown.
"""

from django.db import migrations

from loyalty_crm.roles import MANAGER, SUPPORT, grant, revoke

EDITABLE = ["businesscalendar", "priorityrule"]
GRANTS = {
    SUPPORT: ["view_businesscalendar", "view_priorityrule"],
    MANAGER: [f"{action}_{model}" for model in EDITABLE for action in ("view", "add", "change", "delete")],
}


# (name, priority, tier code, classification, paid plan, kind, VIP)
DEFAULT_RULES = [
    ("Diamond member", "urgent", "diamond", "", False, "", True),
    ("Gold member", "high", "gold", "", False, "", True),
    ("High-value customer", "high", "", "high_value", False, "", True),
    ("Paid member", "high", "", "", True, "", False),
    ("Suggestion", "low", "", "", False, "suggestion", False),
    ("Praise", "low", "", "", False, "praise", False),
]


def forwards(apps, schema_editor):
    grant(apps, "feedback", GRANTS)
    PriorityRule = apps.get_model("feedback", "PriorityRule")
    for name, priority, tier_code, classification, paid_plan, kind, vip in DEFAULT_RULES:
        PriorityRule.objects.get_or_create(
            name=name,
            defaults={
                "priority": priority, "tier_code": tier_code, "classification": classification,
                "paid_plan": paid_plan, "kind": kind, "vip": vip,
            },
        )  # fmt: skip


def backwards(apps, schema_editor):
    revoke(apps, "feedback", GRANTS)
    apps.get_model("feedback", "PriorityRule").objects.filter(name__in=[r[0] for r in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("feedback", "0009_business_hours_priority_contacted_at")]
    operations = [migrations.RunPython(forwards, backwards)]
