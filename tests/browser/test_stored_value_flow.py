"""Browser (Chinese): store staff top up a member with a 充500送100 rule from the member page and see the
stored-value panel; the member pays part of a purchase from the balance and it is returned; a manager
reads the liability report."""

from decimal import Decimal

import pytest

from loyalty_crm.roles import MANAGER, STORE_STAFF
from rewards.models import TopUp, TopUpRule
from rewards.services import stored_value
from tests.browser.conftest import screenshot
from tests.browser.test_member_admin_flows import login
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_store_staff_top_up_with_a_bonus_and_the_panel_follows_payment_and_return(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    make_user("boss", MANAGER)
    member = factories.member(name="周雨桐")
    offer = TopUpRule.objects.create(name="充500送100", pay_amount=Decimal("500.00"), bonus_amount=Decimal("100.00"))
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    panel = page.locator("#wallet-panel")
    panel.wait_for()
    assert "¥0.00" in panel.locator(".m360-wallet-total").inner_text()

    panel.locator("a.m360-wallet-top-up").click()
    page.wait_for_url("**/storedvalueaccount/top-up/**")
    page.fill("#id_amount", "500")
    page.select_option("#id_rule", str(offer.pk))
    page.select_option("#id_payment_method", "wechat_pay")
    screenshot(page, "stored_value_01_top_up_form_zh")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/admin/members/member/{member.pk}/change/")
    assert "¥600.00" in page.locator(".messagelist").inner_text()
    panel = page.locator("#wallet-panel")
    assert "¥600.00" in panel.locator(".m360-wallet-total").inner_text()
    assert "¥500.00" in panel.locator(".m360-wallet-principal").inner_text()
    assert "¥100.00" in panel.locator(".m360-wallet-bonus").inner_text()
    top_up = TopUp.objects.get()
    assert (top_up.rule, top_up.payment_method, top_up.actor.username) == (offer, "wechat_pay", "clerk")

    # At the till (until stored value is a tender of the purchase): ¥180 of a ¥300 bouquet from the
    # balance, in proportion (150 principal + 30 bonus), then the bouquet is returned.
    purchase = post(member, "300.00").purchase
    payment = stored_value.pay_from_balance(member=member, amount="180.00", external_ref="POS-SV-1", purchase=purchase)
    assert (payment.principal_delta, payment.bonus_delta) == (Decimal("-150.00"), Decimal("-30.00"))
    page.reload()
    assert "¥420.00" in page.locator("#wallet-panel .m360-wallet-total").inner_text()
    stored_value.refund_to_balance(purchase=purchase, external_ref="POS-SV-1-R")
    page.reload()
    panel = page.locator("#wallet-panel")
    assert "¥600.00" in panel.locator(".m360-wallet-total").inner_text()
    rows = panel.locator("table.m360-wallet-ledger tbody tr")
    assert rows.count() == 4
    assert purchase.external_ref in rows.first.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot(page, "stored_value_02_member_panel_zh")

    page.context.clear_cookies()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/admin/rewards/storedvalueliability/")
    report = page.locator(".stored-value-liability")
    report.wait_for()
    assert "¥600.00" in report.locator(".liability-figures").inner_text()
    assert report.locator("svg.kpi-chart").count() == 3
    screenshot(page, "stored_value_03_liability_zh")
