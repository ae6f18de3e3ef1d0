"""A store clerk in China records a purchase, then redeems a reward for its points, in the admin."""

import pytest

from loyalty_crm.roles import STORE_STAFF
from rewards.models import ActivityBonus, LedgerEntry, Redemption
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories
from tests.rewards import catalogue_factories as cf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_store_staff_records_a_purchase_then_redeems_a_reward(live_server, zh_page):
    # The figures below are the purchase's alone: no sign-up bonus, whatever state an earlier test left.
    ActivityBonus.objects.filter(kind=ActivityBonus.Kind.SIGN_UP).update(is_active=False)
    make_user("clerk", STORE_STAFF)
    member = factories.member(name="林晓燕")
    factories.store()
    cf.reward(name="永生花小礼盒", points_cost=300, stock=5)
    cf.reward(name="玫瑰花束", points_cost=1000, stock=2)

    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "pw-clerk")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # 1. Record a purchase of 2 × ¥199 on the existing page (it earns 398 points).
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    page.locator(".object-tools a", has_text="录入消费").click()
    page.wait_for_url("**/admin/members/purchase/add/**")
    page.fill("#id_external_ref", "POS-2026-8801")
    page.fill("#id_lines-0-sku", "ROSE-11")
    page.fill("#id_lines-0-name", "11枝红玫瑰花束")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-unit_price", "199.00")
    page.click("input[name=_save]")
    page.wait_for_url(f"**/admin/members/member/{member.pk}/change/**")
    assert list(LedgerEntry.objects.filter(member=member).values_list("kind", "points")) == [("earn", 398)]

    screenshot(page, "rewards_00_member_page_zh")

    # 2. From the member's page, open "Redeem a reward": the balance is shown.
    page.locator(".object-tools a", has_text="积分兑换礼品").click()
    page.wait_for_url("**/admin/rewards/redemption/add/**")
    assert page.locator("#redeem-balance").inner_text() == "398"
    screenshot(page, "rewards_01_redeem_page_zh")

    # 3. Too dear a reward: the refusal is explained in Chinese and nothing changes.
    page.select_option("#id_reward", label="玫瑰花束 — 1000 积分（剩 2 件）")
    page.click("input[name=_save]")
    error = page.locator(".errorlist.nonfield")
    error.wait_for()
    assert "会员当前有 398 积分，需要 1000 积分。" in error.inner_text()
    screenshot(page, "rewards_02_insufficient_points_zh")
    assert not Redemption.objects.exists()

    # 4. The gift box for 300 points: done, the new balance is shown.
    page.select_option("#id_reward", label="永生花小礼盒 — 300 积分（剩 5 件）")
    page.click("input[name=_save]")
    page.wait_for_url(f"**/admin/rewards/redemption/add/?member={member.pk}")
    assert page.locator("#redeem-balance").inner_text() == "98"
    success = page.locator(".messagelist .success").inner_text()
    assert f"会员 {member.member_no} 现有 98 积分" in success
    screenshot(page, "rewards_03_redeemed_zh")
    redemption = Redemption.objects.get()
    assert (redemption.reward.name, redemption.points_spent, redemption.actor.username) == (
        "永生花小礼盒",
        300,
        "clerk",
    )
