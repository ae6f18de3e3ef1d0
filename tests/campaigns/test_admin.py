"""The campaigns back office: drafts through the services, preview, launch/cancel buttons,
results, the contact policy page, read-only outbox and SMS log, permissions and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, ContactPolicy, OutboxMessage, SmsLog
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db
CAMPAIGNS = "/admin/campaigns/campaign/"


def logged_in(client, user):
    client.force_login(user)
    return client


def form_data(**changes):
    data = {
        "name": "母亲节问候", "channel": "sms", "language": "zh-hans", "subject": "",
        "body": "{{ member.name }}，母亲节快乐！", "segment": "", "start_at_0": "", "start_at_1": "",
        "end_at_0": "", "end_at_1": "", "control_group_pct": "10",
        "offer-TOTAL_FORMS": "0", "offer-INITIAL_FORMS": "0", "offer-MIN_NUM_FORMS": "0", "offer-MAX_NUM_FORMS": "1",
    }  # fmt: skip
    return data | changes


def test_marketing_adds_a_draft_through_the_service(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{CAMPAIGNS}add/", form_data())
    assert response.status_code == 302
    made = Campaign.objects.get()
    assert (made.status, made.created_by, made.control_group_pct) == ("draft", marketing, 10)
    assert made.steps.count() == 1


def test_add_shows_template_errors_on_the_field(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{CAMPAIGNS}add/", form_data(body="{% if %}"))
    assert response.status_code == 200
    assert "Template error" in response.context["adminform"].form.errors["body"][0]
    assert not Campaign.objects.exists()


def test_add_refuses_a_tag_outside_the_sandbox_on_the_field(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{CAMPAIGNS}add/", form_data(body="{{ member.name }}{% debug %}"))
    assert response.status_code == 200
    assert "“debug”" in response.context["adminform"].form.errors["body"][0]
    assert not Campaign.objects.exists()


def test_unknown_fields_are_shown_as_warnings(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{CAMPAIGNS}add/", form_data(body="{{ member.nick }}"), follow=True)
    assert any("member.nick" in str(m) for m in response.context["messages"])


def test_change_page_previews_the_message_for_a_sample_member(client, marketing):
    member(name="赵丽")
    made = campaign(body="{{ member.name }}您好，您是{{ tier }}。")
    response = logged_in(client, marketing).get(f"{CAMPAIGNS}{made.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "赵丽您好，您是普通会员。" in response.content.decode()


def test_preview_for_a_chosen_member(client, marketing):
    member(name="赵丽")
    other = member(name="钱多多")
    made = campaign(body="{{ member.name }}")
    response = logged_in(client, marketing).get(f"{CAMPAIGNS}{made.pk}/change/?preview={other.member_no}")
    assert response.context["preview"].text == "钱多多"


def test_preview_of_a_stored_template_outside_the_sandbox_is_an_error_not_its_output(client, marketing):
    member(name="赵丽")
    made = campaign()
    Campaign.objects.filter(pk=made.pk).update(body="{% lorem 300000 w %}{% debug %}")  # saved before the sandbox
    response = logged_in(client, marketing).get(f"{CAMPAIGNS}{made.pk}/change/")
    assert response.status_code == 200
    assert "“lorem”" in response.context["preview_error"] and "“debug”" in response.context["preview_error"]
    assert response.context.get("preview") is None
    assert len(response.content) < 200_000 and "sys.modules" not in response.content.decode()


def test_launch_and_cancel_buttons_call_the_services(client, marketing):
    made = campaign()
    logged_in(client, marketing)
    page = client.get(f"{CAMPAIGNS}{made.pk}/change/").content.decode()
    assert "campaign-launch" in page
    assert client.post(f"{CAMPAIGNS}{made.pk}/launch/").status_code == 302
    made.refresh_from_db()
    assert made.status == "scheduled"
    response = client.post(f"{CAMPAIGNS}{made.pk}/launch/", follow=True)
    assert made.status == "scheduled"
    assert any("Only a draft can be launched" in str(m) for m in response.context["messages"])
    client.post(f"{CAMPAIGNS}{made.pk}/cancel/")
    made.refresh_from_db()
    assert made.status == "cancelled"


def test_launch_needs_the_permission_and_a_post(client, manager, store_staff):
    made = campaign()
    assert logged_in(client, manager).get(f"{CAMPAIGNS}{made.pk}/launch/").status_code == 405
    client.logout()
    assert logged_in(client, store_staff).post(f"{CAMPAIGNS}{made.pk}/launch/").status_code == 403
    made.refresh_from_db()
    assert made.status == "draft"


def test_a_launched_campaign_is_read_only_with_results(client, marketing):
    no_quiet_hours()
    member(sms_consent=True)
    member()
    made = launched(campaign(name="已发送"))
    drain()
    response = logged_in(client, marketing).get(f"{CAMPAIGNS}{made.pk}/change/")
    assert response.status_code == 200
    assert "body" not in response.context["adminform"].form.fields  # read-only
    assert not response.context["has_change_permission"]  # no save buttons
    page = response.content.decode()
    assert "campaign-results" in page
    assert client.post(f"{CAMPAIGNS}{made.pk}/change/", form_data(name="改名")).status_code == 403
    made.refresh_from_db()
    assert made.name == "已发送"


def test_campaign_list_query_count_does_not_grow(client, marketing):
    logged_in(client, marketing)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CAMPAIGNS).status_code == 200
        return len(queries)

    for i in range(3):
        campaign(name=f"a{i}", actor=marketing)
    few = count()
    for i in range(27):
        campaign(name=f"b{i}", actor=marketing)
    assert count() == few


def test_outbox_and_sms_log_lists_are_read_only_with_fixed_queries(client, manager):
    no_quiet_hours(frequency_cap_messages=100)
    logged_in(client, manager)

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for _i in range(3):
        member(sms_consent=True)
    launched(campaign(name="一"))
    drain()
    few = (count("/admin/campaigns/outboxmessage/"), count("/admin/campaigns/smslog/"))
    for _i in range(27):
        member(sms_consent=True)
    launched(campaign(name="二"))
    drain()
    assert OutboxMessage.objects.count() == 33 and SmsLog.objects.count() == 33
    assert (count("/admin/campaigns/outboxmessage/"), count("/admin/campaigns/smslog/")) == few
    message = OutboxMessage.objects.first()
    page = client.get(f"/admin/campaigns/outboxmessage/{message.pk}/change/")
    assert page.status_code == 200 and "Save" not in page.content.decode()
    assert client.get("/admin/campaigns/outboxmessage/add/").status_code == 403
    sms_page = client.get("/admin/campaigns/smslog/").content.decode()
    entry = SmsLog.objects.first()
    assert entry.phone not in sms_page and entry.phone[-4:] in sms_page  # masked


def test_contact_policy_page_is_the_single_row(client, manager):
    logged_in(client, manager)
    response = client.get("/admin/campaigns/contactpolicy/")
    assert response.status_code == 302 and response.url.endswith("/contactpolicy/1/change/")
    data = {
        "quiet_hours_start": "22:00", "quiet_hours_end": "08:30", "timezone": "Asia/Shanghai",
        "frequency_cap_messages": "3", "frequency_cap_days": "14", "email_rate": "5", "sms_rate": "2",
        "wechat_rate": "20", "email_daily_budget": "0", "sms_daily_budget": "0", "wechat_daily_budget": "0",
    }  # fmt: skip
    assert client.post("/admin/campaigns/contactpolicy/1/change/", data).status_code == 302
    policy = ContactPolicy.objects.get()
    assert (policy.frequency_cap_messages, policy.sms_rate, str(policy.quiet_hours_start)) == (3, 2, "22:00:00")
    bad = client.post("/admin/campaigns/contactpolicy/1/change/", data | {"quiet_hours_end": ""})
    assert bad.status_code == 200  # both or neither
    assert ContactPolicy.objects.get().quiet_hours_end is not None


def test_marketing_cannot_open_the_contact_policy_or_sms_log(client, marketing):
    logged_in(client, marketing)
    assert client.get("/admin/campaigns/contactpolicy/1/change/").status_code == 403
    assert client.get("/admin/campaigns/smslog/").status_code == 403
