"""Back office of the referral programme and partners: permissions, fixed query counts, the
programme page, the code import and the partner report with its CSV."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import PartnerCode, PartnerOffer, ReferralProgramme
from campaigns.services import partners
from tests.campaigns.referral_helpers import accept_pool, coupon_offer, hand_out_pool, post_committed, referred_pair
from tests.members import factories

pytestmark = pytest.mark.django_db


def client_for(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


# --- the programme -------------------------------------------------------------------------


def test_programme_list_opens_its_one_row(marketing):
    response = client_for(marketing).get(reverse("admin:campaigns_referralprogramme_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_referralprogramme_change", args=[1])


def test_marketing_changes_the_programme(marketing):
    url = reverse("admin:campaigns_referralprogramme_change", args=[ReferralProgramme.load().pk])
    response = client_for(marketing).post(
        url,
        {
            "is_active": "on",
            "referrer_points_mode": "percent",
            "referrer_points": "0",
            "referrer_percent": "10",
            "referred_points": "50",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    programme = ReferralProgramme.load()
    assert (programme.referrer_points_mode, programme.referrer_percent, programme.referred_points) == (
        "percent",
        10,
        50,
    )


def test_programme_form_refuses_a_percentage_mode_without_a_percentage(marketing):
    url = reverse("admin:campaigns_referralprogramme_change", args=[ReferralProgramme.load().pk])
    response = client_for(marketing).post(
        url,
        {"referrer_points_mode": "percent", "referrer_points": "0", "referrer_percent": "0", "referred_points": "0"},
    )
    assert response.status_code == 200
    assert "referrer_percent" in response.context["adminform"].form.errors


def test_store_staff_see_the_programme_but_cannot_change_it(store_staff):
    url = reverse("admin:campaigns_referralprogramme_change", args=[ReferralProgramme.load().pk])
    client = client_for(store_staff)
    assert client.get(url).status_code == 200
    assert client.post(url, {"referred_points": "9999", "referrer_points_mode": "none"}).status_code == 403
    assert ReferralProgramme.load().referred_points == 100


# --- lists with fixed query counts ---------------------------------------------------------


def add_activity(capture, count: int) -> None:
    offer = PartnerOffer.objects.first() or coupon_offer()
    pool = PartnerCode.objects.first().pool if PartnerCode.objects.exists() else accept_pool(partner=offer.partner)
    for _index in range(count):
        _referrer, referred = referred_pair()
        post_committed(capture, referred, "250.00")  # a referral reward and a partner coupon
        code = f"C{PartnerCode.objects.count():05d}"
        PartnerCode.objects.create(pool=pool, code=code)
        partners.accept_partner_code(code=code, member=referred, external_ref=f"X-{code}")


@pytest.mark.parametrize(
    "model",
    ["referralreward", "referrer", "partner", "partneroffer", "partnercodepool", "partnercode", "partnerofferissue"],
)
def test_changelist_runs_the_same_queries_for_3_and_30_rows(manager, model, django_capture_on_commit_callbacks):
    client = client_for(manager)
    url = reverse(f"admin:campaigns_{model}_changelist")
    add_activity(django_capture_on_commit_callbacks, 3)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_activity(django_capture_on_commit_callbacks, 27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) >= 1
    assert len(many) == len(few)


def test_referrers_list_counts_referred_and_rewarded(manager, django_capture_on_commit_callbacks):
    referrer, bought = referred_pair()
    factories.member(name="未购买", referral_code=referrer.referral_code)
    post_committed(django_capture_on_commit_callbacks, bought)
    response = client_for(manager).get(reverse("admin:campaigns_referrer_changelist"))
    [row] = response.context["cl"].result_list
    assert (row.member_no, row.referred_count, row.rewarded_count, row.referrer_points_total) == (
        referrer.member_no,
        2,
        1,
        200,
    )


def test_referral_rewards_are_read_only_for_everyone(manager):
    client = client_for(manager)
    assert client.get(reverse("admin:campaigns_referralreward_add")).status_code == 403


# --- importing codes -----------------------------------------------------------------------


def test_marketing_imports_codes_from_a_file(marketing):
    pool = accept_pool()
    url = reverse("admin:campaigns_partnercodepool_import", args=[pool.pk])
    upload = SimpleUploadedFile("codes.csv", b"code,batch\nAAA-111,1\nbbb222,1\n")
    response = client_for(marketing).post(url, {"file": upload, "codes": "CCC333"})
    assert response.status_code == 302
    assert sorted(PartnerCode.objects.values_list("code", flat=True)) == ["AAA111", "BBB222", "CCC333", "CODE"]


def test_import_page_shows_the_clash_and_adds_nothing(marketing):
    first = accept_pool()
    partners.import_partner_codes(pool=first, lines=["TAKEN1"])
    second = hand_out_pool(name="电影票")
    url = reverse("admin:campaigns_partnercodepool_import", args=[second.pk])
    response = client_for(marketing).post(url, {"codes": "NEW1\nTAKEN1"})
    assert response.status_code == 200
    assert "Line 2" in response.content.decode()
    assert not PartnerCode.objects.filter(pool=second).exists()


def test_store_staff_cannot_import_codes(store_staff):
    pool = accept_pool()
    url = reverse("admin:campaigns_partnercodepool_import", args=[pool.pk])
    assert client_for(store_staff).post(url, {"codes": "NEW1"}).status_code == 403
    assert not PartnerCode.objects.exists()


# --- the partner report --------------------------------------------------------------------


def test_partner_report_page_with_chart_and_csv(marketing, django_capture_on_commit_callbacks):
    offer = coupon_offer()
    member = factories.member()
    post_committed(django_capture_on_commit_callbacks, member, "300.00")
    url = reverse("admin:campaigns_partner_report", args=[offer.partner.pk])
    client = client_for(marketing)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "bar-chart-coupons" in html and "bar-chart-revenue" in html
    assert page.context["totals"]["issued"] == 1
    assert len(page.context["rows"]) == 12
    assert len(client.get(url, {"months": "24"}).context["rows"]) == 24
    assert len(client.get(url, {"months": "junk"}).context["rows"]) == 12
    export = client.get(url, {"format": "csv", "months": "6"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["partner", "month", "coupons_issued", "coupons_used", "redemption_rate_percent"]
    assert len(rows) == 1 + 6
    assert rows[-1][2:5] == ["1", "0", "0.0"]


def test_partner_report_csv_neutralises_formula_like_names(manager):
    offer = coupon_offer()
    type(offer.partner).objects.filter(pk=offer.partner_id).update(name="=HYPERLINK(1)")
    url = reverse("admin:campaigns_partner_report", args=[offer.partner.pk])
    rows = list(csv.reader(io.StringIO(client_for(manager).get(url, {"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_store_staff_cannot_open_the_partner_report(store_staff):
    offer = coupon_offer()
    url = reverse("admin:campaigns_partner_report", args=[offer.partner.pk])
    assert client_for(store_staff).get(url).status_code == 403
    listing = client_for(store_staff).get(reverse("admin:campaigns_partner_changelist"))
    assert listing.status_code == 200
    assert url not in listing.content.decode()


def test_partner_report_in_chinese(marketing):
    offer = coupon_offer()
    url = reverse("admin:campaigns_partner_report", args=[offer.partner.pk])
    html = client_for(marketing, "zh-hans").get(url).content.decode()
    assert "核销率" in html
