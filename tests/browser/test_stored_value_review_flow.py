"""A manager in China reads the stored value owed in the monthly marketing review (issue 16): a
top-up with a bonus and a payment from the balance this month show as topped up, spent and owed."""

import pytest

from loyalty_crm.roles import MANAGER
from rewards.services import stored_value
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import next_ref
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_manager_sees_the_stored_value_section_of_the_monthly_review(live_server, zh_page):
    make_user("manager", MANAGER)
    customer = factories.member(name="储值会员")
    fund(customer, "500.00", with_rule=rule("500.00", "100.00"))
    stored_value.pay_from_balance(member=customer, amount="120.00", external_ref=next_ref("PAY"))

    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "pw-manager")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/monthly-report/")
    section = page.locator("table.stored-value-review")
    this_month = section.locator("tbody tr").last.inner_text()
    # ¥500 topped up, ¥120 spent (¥100 principal, ¥20 bonus): ¥400 principal and ¥80 bonus owed
    assert this_month.split("\t")[1:] == ["¥500.00", "¥120.00", "¥400.00", "¥80.00"]
    assert "储值" in page.locator("h2", has_text="储值").inner_text()
    section.scroll_into_view_if_needed()
    screenshot(page, "stored_value_review_01_monthly_review_zh")
