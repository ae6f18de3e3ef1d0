"""The monthly marketing review as PDF: an A4 document with the hand-computed figures, the KPI
targets with their status and the charts, in English and Chinese; who may download it."""

import datetime
import io
from decimal import Decimal

import pypdf
import pytest
import time_machine
from django.utils import timezone, translation

from campaigns import reports
from campaigns.models import CampaignKpiTarget
from campaigns.report_pdf import monthly_review_pdf
from campaigns.services import offers
from rewards.services.coupons import redeem_coupon
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
URL = "/admin/campaigns/campaign/monthly-report/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
# February 2026 of the hand-computed case in test_reports.py: 1 campaign, 3 recipients, 2
# participants (66.7%), 2 buyers, 1 repeat buyer (50.0%), 3 coupons issued, 1 used (33.3%).
FEBRUARY_ROW = "2026-02\n1\n3\n2\n66.7%\n2\n1\n50.0%\n3\n1\n33.3%"
A4 = (595.28, 841.89)


def at(year, month, day):
    return timezone.make_aware(datetime.datetime(year, month, day, 12, 0))


@pytest.fixture
def february():
    no_quiet_hours()
    a, b, c = (member(sms_consent=True) for _i in range(3))
    post(a, "10.00", ordered_at=at(2026, 1, 3))
    post(a, "10.00", ordered_at=at(2026, 1, 20))
    post(b, "10.00", ordered_at=at(2026, 1, 5))
    made = campaign(body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=catalogue_factories.template())
    with time_machine.travel(at(2026, 2, 10), tick=False):
        launched(made, now=at(2026, 2, 10))
        drain()
    with time_machine.travel(at(2026, 2, 11), tick=False):
        post(a, "50.00", ref="feb-a", ordered_at=at(2026, 2, 10) + datetime.timedelta(hours=1))
        redeem_coupon(code=a.coupons.get().code, member=a, external_ref="feb-a")
    post(c, "30.00", ordered_at=at(2026, 2, 25))
    # Participation +10% on February's 66.7% → goal 73.3% by March; March has no recipients yet.
    CampaignKpiTarget.objects.create(
        metric="participation_rate", baseline_month=datetime.date(2026, 2, 1), change_percent=Decimal("10"), months=1
    )
    # Repurchase rate −50% on February's 50% → goal 25% by March; March has no buyers yet.
    CampaignKpiTarget.objects.create(
        metric="repurchase_rate", baseline_month=datetime.date(2026, 2, 1), change_percent=Decimal("-50"), months=1
    )


def text_of(content: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def download(client, headers):
    with time_machine.travel(at(2026, 3, 15), tick=False):
        return client.get(URL, {"format": "pdf"}, **headers)


def test_pdf_is_an_a4_review_with_the_figures_and_targets(client, marketing, february):
    client.force_login(marketing)
    response = download(client, EN)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="campaigns-monthly-review-2026-03-en.pdf"'
    assert response.content.startswith(b"%PDF-")
    reader, text = text_of(response.content)
    assert tuple(float(v) for v in reader.pages[0].mediabox[2:]) == pytest.approx(A4, abs=0.1)
    assert "Monthly marketing review" in text and "Period: 2025-04 to 2026-03" in text
    assert FEBRUARY_ROW in text
    assert "Campaign participation rate +10.0%\n2026-02\n66.7%\n73.3%\n2026-03" in text
    assert "Repurchase rate of members -50.0%\n2026-02\n50.0%\n25.0%\n2026-03" in text
    for chart in ("Repurchase rate of members (%)", "Campaign participation rate (%)"):
        assert chart in text
    assert "26-02" in text  # the charts' month labels
    assert reader.metadata.title == "Monthly marketing review"


def test_chinese_request_gets_the_chinese_pdf_with_the_cid_font(client, marketing, february):
    client.force_login(marketing)
    response = download(client, ZH)
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert response["Content-Disposition"].endswith('-2026-03-zh-hans.pdf"')
    assert b"/STSong-Light" in response.content
    _reader, text = text_of(response.content)
    assert "月度营销复盘" in text and "统计期间：2025-04 至 2026-03" in text
    assert "指标目标" in text and "每月数据" in text and "活动参与率 (%)" in text
    assert FEBRUARY_ROW in text


def test_target_status_words_follow_the_figures():
    month = reports.Month(month=datetime.date(2026, 2, 1), recipients=4, participants=3)
    target = CampaignKpiTarget(
        metric="participation_rate", baseline_month=datetime.date(2026, 1, 1), change_percent=Decimal("20")
    )
    met = reports.TargetStatus(
        target=target, baseline=0.5, goal=0.6, actual=0.75, actual_month=month.month, deadline=month.month
    )
    missed = reports.TargetStatus(
        target=target, baseline=0.5, goal=0.6, actual=0.4, actual_month=month.month, deadline=month.month
    )
    with translation.override("en"):
        _r, text = text_of(monthly_review_pdf(months=[month], targets=[met]))
        assert "75.0% (2026-02)\non target" in text
        _r, text = text_of(monthly_review_pdf(months=[month], targets=[missed]))
        assert "40.0% (2026-02)\nnot yet on target" in text
        _r, text = text_of(monthly_review_pdf(months=[month], targets=[]))
        assert "No target set." in text
    with translation.override("zh-hans"):
        _r, text = text_of(monthly_review_pdf(months=[month], targets=[met]))
        assert "已达标" in text


def test_review_page_links_the_pdf(client, marketing):
    client.force_login(marketing)
    page = client.get(URL).content.decode()
    assert 'href="?format=csv"' in page and 'href="?format=pdf"' in page


def test_only_marketing_and_managers_download_it(client, manager, store_staff, support):
    client.force_login(manager)
    assert client.get(URL, {"format": "pdf"}).status_code == 200
    for user in (store_staff, support):
        client.force_login(user)
        assert client.get(URL, {"format": "pdf"}).status_code == 403
    client.logout()
    assert client.get(URL, {"format": "pdf"}).status_code == 302  # to the login page
