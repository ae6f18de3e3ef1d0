"""Marketing in China sets the referral programme, imports a partner's codes and reads the partner report."""

import pytest

from campaigns.models import PartnerCode, ReferralProgramme
from campaigns.services import partners
from loyalty_crm.roles import MARKETING
from rewards.services import coupons
from tests.browser.conftest import screenshot
from tests.campaigns.referral_helpers import accept_pool, coupon_offer
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_marketing_sets_referral_imports_codes_and_reads_the_partner_report(live_server, zh_page):
    make_user("marketer", MARKETING)
    offer = coupon_offer()
    pool = accept_pool(partner=offer.partner, name="招商银行 2026")
    member = factories.member(name="林晓燕")
    for amount in ("260.00", "320.00", "150.00"):
        post(member, amount)  # committed: the 200+ purchases get the partner's coupon
    coupon = member.coupons.filter(source="partner").first()
    used_on = post(member, "180.00")
    coupons.redeem_coupon(code=coupon.code, member=member, external_ref=used_on.purchase.external_ref)

    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-marketer")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # 1. The referral programme: the referrer's points follow the first purchase (10%).
    page.goto(f"{live_server.url}/admin/campaigns/referralprogramme/")
    page.wait_for_url("**/referralprogramme/1/change/")
    page.select_option("#id_referrer_points_mode", "percent")
    page.fill("#id_referrer_percent", "10")
    screenshot(page, "partners_00_referral_programme_zh")
    page.click("input[name=_save]")
    assert page.locator(".messagelist").inner_text().strip() == "推荐有礼设置已保存。"
    assert ReferralProgramme.load().referrer_points_mode == "percent"

    # 2. Import the bank's codes by pasting them.
    page.goto(f"{live_server.url}/admin/campaigns/partnercodepool/{pool.pk}/import/")
    page.fill("#id_codes", "cmb-0001\ncmb-0002\nCMB 0003")
    screenshot(page, "partners_01_import_codes_zh")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/campaigns/partnercodepool/")
    assert "已向“" in page.locator(".messagelist").inner_text()
    assert PartnerCode.objects.filter(pool=pool).count() == 3
    partners.accept_partner_code(code="CMB0001", member=member, external_ref="POS-77")

    # 3. The partner report: figures, two charts, the table.
    page.goto(f"{live_server.url}/admin/campaigns/partner/")
    page.locator("a", has_text="报表").first.click()
    page.wait_for_url("**/report/")
    figures = page.locator(".report-figures .figure").all_inner_texts()
    assert figures[:3] == ["3", "1", "33.3%"]
    assert page.locator(".bar-chart-coupons .bar-column").count() == 12
    screenshot(page, "partners_02_report_zh")
