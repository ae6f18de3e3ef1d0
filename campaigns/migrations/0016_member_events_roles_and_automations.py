"""Member events: who may do what, and the two automations that tell members about their seats.

Store staff run check-in at the door and look at events and registrations (they also sign members
up there); Marketing creates events and invitations; Managers everything. The reminder the day
before (switched off, like every date trigger, until marketing switches it on) and the "seat
confirmed from the waitlist" message (on: it answers the member's own sign-up) get their rows; their
default Chinese SMS messages (campaigns.automation_rules) become campaigns when first configured or
used (marketing edits them under Automations)."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, grant, revoke

GRANTS = {
    STORE_STAFF: ["view_event", "view_eventregistration", "add_eventregistration", "checkin_event"],
    MARKETING: [
        "view_event", "add_event", "change_event", "view_eventregistration", "add_eventregistration",
        "change_eventregistration", "view_eventinvitation", "add_eventinvitation",
    ],
    MANAGER: [
        "view_event", "add_event", "change_event", "delete_event", "checkin_event", "view_eventregistration",
        "add_eventregistration", "change_eventregistration", "view_eventinvitation", "add_eventinvitation",
    ],
}  # fmt: skip

# (days, enabled, name, body): the reminder is off like every date trigger until marketing switches
# it on (the demo does); the seat message answers the member's own sign-up, so it is on.
MESSAGES = {
    "event_reminder": (
        1,
        False,
        "自动：活动提醒",
        "{{ member.name }}您好，您报名的「{{ event_title }}」将于{{ event_starts_at }}开始，"
        "地点：{{ event_place }}。期待您的光临！",
    ),
    "event_seat": (
        0,
        True,
        "自动：活动候补转正",
        "{{ member.name }}您好，「{{ event_title }}」有名额空出，您已从候补转为正式报名，"
        "活动时间{{ event_starts_at }}，地点：{{ event_place }}。",
    ),
}


def forwards(apps, schema_editor):
    grant(apps, "campaigns", GRANTS)
    Automation = apps.get_model("campaigns", "Automation")
    # The rows only: like every automation, its campaign is made with the default message when it
    # is first configured or first used (campaigns.services.automations), so a fresh shop's campaign
    # list stays empty.
    for kind, (days, enabled, _name, _body) in MESSAGES.items():
        Automation.objects.get_or_create(kind=kind, holiday="", defaults={"days_before": days, "enabled": enabled})


def backwards(apps, schema_editor):
    revoke(apps, "campaigns", GRANTS)
    Automation = apps.get_model("campaigns", "Automation")
    for automation in Automation.objects.filter(kind__in=list(MESSAGES)):
        campaign_id = automation.campaign_id
        automation.delete()
        if campaign_id:
            apps.get_model("campaigns", "Campaign").objects.filter(pk=campaign_id).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0015_member_events")]
    operations = [migrations.RunPython(forwards, backwards)]
