"""Browser (Chinese): stored value at the till (issue 16) — top up ¥500 with a +¥100 rule at the
counter, pay part of a purchase from the balance, return it, and see the balance and the receipt."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from loyalty_crm.roles import STORE_STAFF
from members.models import Purchase
from rewards.models import StoredValueAccount, StoredValueEntry
from tests.browser.conftest import screenshot
from tests.browser.test_member_admin_flows import login
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.stored_value_helpers import rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def figure(page, name: str) -> str:
    return page.locator(f"#till-figures [data-figure={name}]").inner_text()


def wait_figure(page, name: str, text: str) -> None:
    page.wait_for_function(
        "([name, text]) => document.querySelector(`#till-figures [data-figure=${name}]`).textContent === text",
        arg=[name, text],
    )


def test_top_up_pay_part_from_the_balance_and_return_it_at_the_till(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    factories.store()
    factories.product("ROSE-11", "11枝红玫瑰花束", "199.00")
    bonus_rule = rule("500.00", "100.00", name="充500送100")
    member = factories.member(name="王芳", phone="13612345678")
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/till/?member={member.member_no}")
    page.locator("#till-customer-card").wait_for()
    assert "王芳" in page.locator("#till-customer-name").inner_text()

    # Top up ¥500 paid in cash, with the +¥100 rule the till offers for that amount.
    page.locator("#till-top-up summary").click()
    page.locator("#till-top-up-amount").fill("500")
    page.wait_for_function(f"document.querySelector('#till-top-up-rule').value === '{bonus_rule.pk}'")
    assert "充500送100" in page.locator("#till-top-up-rule option:checked").inner_text()
    page.locator("#till-top-up-method").select_option("cash")
    screenshot(page, "till_sv_01_top_up_form_zh")
    page.locator("#till-top-up-submit").click()
    page.wait_for_function("document.querySelector('#till-top-up-message').textContent.includes('600.00')")
    assert "¥600.00" in page.locator("#till-stored-value-hint").inner_text()
    account = StoredValueAccount.objects.get(member=member)
    assert (account.principal, account.bonus) == (Decimal("500.00"), Decimal("100.00"))

    # A bouquet of ¥199 (regular members: 10% off → ¥179.10), ¥100 of it from the balance.
    page.locator("#till-product").fill("ROSE-11")
    page.keyboard.press("Enter")
    page.locator("#till-lines tbody tr").first.wait_for()
    wait_figure(page, "total", "¥179.10")
    page.locator("#till-stored-value").fill("100")
    wait_figure(page, "stored_value_used", "−¥100.00")
    assert figure(page, "amount_due") == "¥79.10"
    assert "¥600.00" in page.locator("#till-stored-value-hint").inner_text()
    # Points earn on the money (¥79.10) and the principal share (¥83.33 of ¥100), not the bonus share.
    assert figure(page, "points_to_earn") == "162"
    screenshot(page, "till_sv_02_quote_with_stored_value_zh")

    page.locator("#till-confirm").click()
    page.wait_for_url(re.compile(r".*/admin/till/receipt/\d+/$"))
    receipt = page.locator("#content-main")
    assert receipt.locator("dd.receipt-stored-value").inner_text() == "¥100.00"
    assert receipt.locator("dd.receipt-stored-value-balance").inner_text() == "¥500.00"
    assert "¥79.10" in receipt.inner_text()
    screenshot(page, "till_sv_03_receipt_zh")
    purchase = Purchase.objects.get(member=member)
    assert purchase.total == Decimal("179.10")
    account.refresh_from_db()
    assert (account.principal, account.bonus) == (Decimal("416.67"), Decimal("83.33"))

    # The customer brings it back: the stored-value share returns to the balance.
    page.goto(f"{live_server.url}/admin/till/returns/?purchase={purchase.pk}")
    item = purchase.items.get()
    page.locator(f"#qty-{item.pk}").fill("1")
    page.wait_for_function(
        "document.querySelector('#returns-quote [data-figure=stored_value_back]').textContent === '¥100.00'"
    )
    assert page.locator("#returns-quote [data-figure=money_back]").inner_text() == "¥179.10"
    screenshot(page, "till_sv_04_return_quote_zh")
    page.locator("#returns-confirm").click()
    page.wait_for_url(re.compile(rf".*\?purchase={purchase.pk}$"))
    assert "已退款" in page.locator("ul.messagelist").inner_text()
    assert "100.00" in page.locator("ul.messagelist").inner_text()
    account.refresh_from_db()
    assert (account.principal, account.bonus) == (Decimal("500.00"), Decimal("100.00"))
    assert StoredValueEntry.objects.filter(member=member, kind="payment_refund").count() == 1
    screenshot(page, "till_sv_05_return_done_zh")

    # The receipt now shows what went back; the member's page shows the balance restored.
    page.goto(f"{live_server.url}/admin/till/receipt/{purchase.pk}/")
    assert "¥100.00" in page.locator("#content-main").inner_text()
    screenshot(page, "till_sv_06_receipt_after_return_zh")
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    panel = page.locator("#wallet-panel")
    panel.wait_for()
    assert "¥600.00" in panel.locator(".m360-wallet-total").inner_text()
    assert "¥500.00" in panel.locator(".m360-wallet-principal").inner_text()
    assert "¥100.00" in panel.locator(".m360-wallet-bonus").inner_text()
    panel.scroll_into_view_if_needed()
    screenshot(page, "till_sv_07_member_wallet_after_return_zh")
