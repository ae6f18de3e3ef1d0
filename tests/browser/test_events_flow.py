"""Member events in the browser, in Chinese: a marketer creates a workshop for 10 and invites the
high-value members; a member signs up from the invitation link on a phone (390×844); store staff
check them in at the door by scanning the card (typing its code into the scan field).
Screenshots land in var/screenshots/events_*.png."""

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns import event_links
from campaigns.models import Classification, Event, EventInvitation, EventRegistration, MemberScore, Segment
from loyalty_crm.centre.session import start_session
from loyalty_crm.roles import MARKETING, STORE_STAFF
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _programme_rows():
    reseed_after_flush()


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_workshop_invitation_sign_up_from_the_link_and_check_in(live_server, zh_page, browser):
    make_user("marketer", MARKETING)
    make_user("door", STORE_STAFF)
    guest = factories.member(name="林小雨", consents={"marketing_sms": True})
    MemberScore.objects.create(
        member=guest, as_of=timezone.localdate(), computed_at=timezone.now(), classification=Classification.HIGH_VALUE
    )
    segment = Segment.objects.create(name="高价值会员", rules={"classification": ["high_value"]})
    starts = timezone.localtime() + timezone.timedelta(days=7)

    page = zh_page
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/event/add/")
    page.fill("#id_title", "圣诞花环工作坊")
    page.select_option("#id_kind", "workshop")
    page.fill("#id_description", "花艺师带您亲手制作圣诞花环。")
    page.fill("#id_address", "花间集 静安店二楼")
    page.fill("#id_starts_at_0", starts.strftime("%Y-%m-%d"))
    page.fill("#id_starts_at_1", "15:00:00")
    page.fill("#id_ends_at_0", starts.strftime("%Y-%m-%d"))
    page.fill("#id_ends_at_1", "17:00:00")
    page.fill("#id_capacity", "10")
    page.check("input[name=audience_classifications][value=high_value]")
    screenshot(page, "events_01_create_zh")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/campaigns/event/")
    event = Event.objects.get(title="圣诞花环工作坊")
    assert event.capacity == 10 and event.audience_classifications == ["high_value"]
    assert "圣诞花环工作坊" in page.locator("#result_list").inner_text()
    screenshot(page, "events_02_list_zh")

    page.click("#result_list a:has-text('邀请')")
    page.select_option("#id_segment", str(segment.pk))
    page.select_option("#id_channel", "sms")
    screenshot(page, "events_03_invite_zh")
    page.click("button:has-text('创建邀请')")
    page.wait_for_url("**/admin/campaigns/campaign/*/change/**")
    invitation = EventInvitation.objects.get(event=event)
    assert invitation.campaign.segment_id == segment.pk and "{{ event_link }}" in invitation.campaign.body
    screenshot(page, "events_04_campaign_zh")

    phone = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    mobile = phone.new_page()
    link = event_links.link_for(event_id=event.pk, member_no=guest.member_no)
    mobile.goto(live_server.url + "/m/" + link.split("/m/", 1)[1])
    assert "圣诞花环工作坊" in mobile.locator("main").inner_text()
    assert "林小雨" in mobile.locator("main").inner_text()
    screenshot(mobile, "events_05_link_phone_zh")
    mobile.click("button:has-text('确认报名')")
    mobile.locator(".mce-status").wait_for()
    assert "成功报名" in mobile.locator(".mce-status").inner_text()
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(mobile, "events_06_signed_up_phone_zh")
    phone.add_cookies(
        [{"name": settings.MEMBER_SESSION_COOKIE_NAME, "value": start_session(guest), "url": f"{live_server.url}/m/"}]
    )
    mobile.goto(f"{live_server.url}/m/events/")
    assert "圣诞花环工作坊" in mobile.locator("main").inner_text()
    assert mobile.locator(".mce-status").first.inner_text() == "您已报名"
    screenshot(mobile, "events_06b_centre_phone_zh")
    phone.close()
    assert EventRegistration.objects.get(event=event, member=guest).status == "confirmed"

    door = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768})
    staff_page = door.new_page()
    log_in(staff_page, live_server, "door")
    staff_page.goto(f"{live_server.url}/admin/events/{event.pk}/check-in/")
    staff_page.fill("#scan", guest.member_no)
    staff_page.keyboard.press("Enter")
    result = staff_page.locator(".checkin-result")
    result.wait_for()
    assert "签到成功：林小雨" in result.inner_text()
    screenshot(staff_page, "events_07_checked_in_zh")
    staff_page.fill("#scan", guest.member_no)
    staff_page.keyboard.press("Enter")
    staff_page.locator(".checkin-result.again").wait_for()
    assert "已签到过" in staff_page.locator(".checkin-result").inner_text()
    screenshot(staff_page, "events_08_again_zh")
    door.close()
    assert EventRegistration.objects.get(event=event, member=guest).attended_at is not None
