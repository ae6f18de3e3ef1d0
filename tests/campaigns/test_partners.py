"""Partner marketing (联合营销): coupons on purchases of 200 or more, partner codes accepted at
checkout, importing codes, and the per-partner report's arithmetic."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from campaigns import selectors
from campaigns.errors import PartnerCodeInvalid
from campaigns.models import PartnerCode, PartnerOffer, PartnerOfferIssue
from campaigns.services import partners
from members.models import Member
from rewards.errors import CouponInvalid
from rewards.models import Coupon
from rewards.services import checkout, coupons, refund_purchase
from tests.campaigns.referral_helpers import accept_pool, coupon_offer, hand_out_pool, partner, post_committed
from tests.members import factories
from tests.rewards.catalogue_factories import template
from tests.rewards.helpers import line, post

pytestmark = pytest.mark.django_db


# --- offers on spend -----------------------------------------------------------------------


@pytest.mark.parametrize(("paid", "issued"), [("199.99", 0), ("200.00", 1), ("888.00", 1)])
def test_threshold_is_the_paid_total(django_capture_on_commit_callbacks, paid, issued):
    offer = coupon_offer()
    member = factories.member()
    post_committed(django_capture_on_commit_callbacks, member, paid)
    assert PartnerOfferIssue.objects.filter(offer=offer).count() == issued
    assert Coupon.objects.filter(member=member, source=Coupon.Source.PARTNER).count() == issued


def test_the_after_posting_probe_applies_the_offers_rule():
    """`may_have_offers` (one small query after every posting) answers as `offers_for` would."""
    now = timezone.now()
    assert selectors.may_have_offers(total=Decimal("999.00"), at=now) is False  # no offer at all
    offer = coupon_offer(valid_from=now - datetime.timedelta(days=1), valid_until=now + datetime.timedelta(days=1))
    assert selectors.may_have_offers(total=Decimal("200.00"), at=now) is True
    assert selectors.may_have_offers(total=Decimal("199.99"), at=now) is False
    assert selectors.may_have_offers(total=Decimal("500.00"), at=now + datetime.timedelta(days=2)) is False
    assert selectors.may_have_offers(total=Decimal("500.00"), at=now - datetime.timedelta(days=2)) is False
    offer.partner.is_active = False
    offer.partner.save()
    assert selectors.may_have_offers(total=Decimal("500.00"), at=now) is False


def test_threshold_counts_what_was_paid_after_discounts(django_capture_on_commit_callbacks):
    coupon_offer()
    member = factories.member()
    # 210.00 of goods with 10.01 off: 199.99 paid, below the line.
    post_committed(django_capture_on_commit_callbacks, member, items=[line("210.00")], total=Decimal("199.99"))
    assert PartnerOfferIssue.objects.count() == 0


def test_threshold_is_configurable_per_offer(django_capture_on_commit_callbacks):
    low = coupon_offer(threshold="50.00")
    high = coupon_offer(threshold="500.00", coupon_template=template(name="电影票"))
    member = factories.member()
    post_committed(django_capture_on_commit_callbacks, member, "120.00")
    assert list(PartnerOfferIssue.objects.values_list("offer", flat=True)) == [low.pk]
    assert high.issues.count() == 0


def test_once_per_purchase_however_often_it_is_replayed(django_capture_on_commit_callbacks):
    offer = coupon_offer()
    member = factories.member()
    at = timezone.now() - datetime.timedelta(hours=1)
    first = post_committed(django_capture_on_commit_callbacks, member, "300.00", ref="BIG-1", ordered_at=at)
    post_committed(django_capture_on_commit_callbacks, member, "300.00", ref="BIG-1", ordered_at=at)  # a POS retry
    assert partners.issue_offer(offer=offer, purchase=first.purchase) is None  # a rerun of the task
    assert partners.issue_partner_offers(purchase=first.purchase) == []
    assert PartnerOfferIssue.objects.count() == 1
    # A second qualifying purchase gets its own.
    post_committed(django_capture_on_commit_callbacks, member, "300.00", ref="BIG-2")
    assert PartnerOfferIssue.objects.count() == 2


def test_the_database_refuses_a_second_issue_for_one_purchase():
    offer = coupon_offer()
    member = factories.member()
    purchase = factories.purchase(member, "300.00")
    PartnerOfferIssue.objects.create(offer=offer, purchase=purchase, member=member)
    with pytest.raises(IntegrityError):
        PartnerOfferIssue.objects.create(offer=offer, purchase=purchase, member=member)


def test_refund_keeps_the_partner_coupon(django_capture_on_commit_callbacks):
    coupon_offer()
    member = factories.member()
    result = post_committed(django_capture_on_commit_callbacks, member, "300.00")
    refund_purchase(purchase=result.purchase, external_ref="R-1")
    assert Coupon.objects.get(source=Coupon.Source.PARTNER).status == Coupon.Status.ISSUED


@pytest.mark.parametrize(
    "change",
    [
        {"is_active": False},
        {"valid_until": timezone.now() - datetime.timedelta(days=2)},
        {"valid_from": timezone.now() + datetime.timedelta(days=2)},
    ],
)
def test_inactive_or_out_of_window_offers_issue_nothing(django_capture_on_commit_callbacks, change):
    offer = coupon_offer()
    PartnerOffer.objects.filter(pk=offer.pk).update(**change)
    post_committed(django_capture_on_commit_callbacks, factories.member(), "300.00")
    assert PartnerOfferIssue.objects.count() == 0


def test_an_inactive_partner_issues_nothing(django_capture_on_commit_callbacks):
    offer = coupon_offer()
    type(offer.partner).objects.filter(pk=offer.partner_id).update(is_active=False)
    post_committed(django_capture_on_commit_callbacks, factories.member(), "300.00")
    assert PartnerOfferIssue.objects.count() == 0


def test_hand_out_pool_gives_one_code_per_purchase_until_used_up(django_capture_on_commit_callbacks, caplog):
    pool = hand_out_pool()
    partners.import_partner_codes(pool=pool, lines=["CINE-0001", "CINE-0002"])
    offer = PartnerOffer.objects.create(partner=pool.partner, name="电影票", code_pool=pool)
    member = factories.member()
    for _index in range(3):
        post_committed(django_capture_on_commit_callbacks, member, "260.00")
    issues = list(PartnerOfferIssue.objects.filter(offer=offer).order_by("pk").select_related("partner_code"))
    assert [issue.partner_code.code for issue in issues] == ["CINE0001", "CINE0002"]
    assert set(PartnerCode.objects.values_list("status", "member")) == {("issued", member.pk)}
    assert "partner_codes_exhausted" in caplog.text  # the third purchase found none; the posting stood


def test_a_failing_offer_skips_only_itself(django_capture_on_commit_callbacks):
    dead = coupon_offer(coupon_template=template(name="停用", is_active=False))
    live = coupon_offer(coupon_template=template(name="有效"))
    post_committed(django_capture_on_commit_callbacks, factories.member(), "300.00")
    assert list(PartnerOfferIssue.objects.values_list("offer", flat=True)) == [live.pk]
    assert dead.issues.count() == 0


def test_offer_needs_a_coupon_or_codes_but_not_both():
    offer = PartnerOffer(partner=partner(), name="x", threshold=Decimal("200.00"))
    with pytest.raises(ValidationError, match="either"):
        offer.full_clean()
    with pytest.raises(IntegrityError):
        offer.save()


def test_threshold_defaults_to_200():
    assert PartnerOffer._meta.get_field("threshold").default == Decimal("200.00")


# --- partner codes accepted at checkout ----------------------------------------------------


def test_partner_code_becomes_the_members_coupon_for_the_quote_and_redemption():
    pool = accept_pool()
    partners.import_partner_codes(pool=pool, lines=["bank-2026-aaaa"])
    member = factories.member()
    use = partners.accept_partner_code(code="BANK 2026 AAAA", member=member, external_ref="ORD-9")
    assert use.created is True
    coupon = use.coupon
    assert (coupon.member, coupon.source, coupon.value) == (member, Coupon.Source.PARTNER, Decimal("30.00"))
    quote = checkout.quote_checkout(member=member, items=[line("200.00")], coupon_code=coupon.code)
    assert quote.coupon_discount == Decimal("30.00")
    assert coupons.validate_coupon(code=coupon.code, member=member, order_total=Decimal("200")).valid
    coupons.redeem_coupon(code=coupon.code, member=member, external_ref="ORD-9")
    code = PartnerCode.objects.get()
    assert (code.status, code.member, code.external_ref) == ("accepted", member, "ORD-9")


def test_the_same_member_and_order_again_answers_the_first_acceptance():
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANKAAAA")
    member = factories.member()
    first = partners.accept_partner_code(code="BANKAAAA", member=member, external_ref="ORD-1")
    again = partners.accept_partner_code(code="bankaaaa", member=member, external_ref="ORD-1")
    assert (again.created, again.coupon) == (False, first.coupon)
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize("other", ["another member", "another order"])
def test_a_used_partner_code_is_refused(other):
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANKAAAA")
    member = factories.member()
    partners.accept_partner_code(code="BANKAAAA", member=member, external_ref="ORD-1")
    who, ref = (factories.member(name="另一位"), "ORD-1") if other == "another member" else (member, "ORD-2")
    with pytest.raises(PartnerCodeInvalid) as refused:
        partners.accept_partner_code(code="BANKAAAA", member=who, external_ref=ref)
    assert (refused.value.code, refused.value.reason) == ("coupon_invalid", "used")
    assert Coupon.objects.count() == 1


def test_unknown_and_hand_out_codes_are_not_accepted():
    pool = hand_out_pool()
    PartnerCode.objects.create(pool=pool, code="CINE0001")  # ours to hand out, not the partner's to spend
    member = factories.member()
    for code in ["NOSUCHCODE", "CINE0001"]:
        with pytest.raises(PartnerCodeInvalid) as refused:
            partners.accept_partner_code(code=code, member=member, external_ref="ORD-1")
        assert refused.value.reason == "unknown"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_active": False}, "void"),
        ({"valid_until": timezone.now() - datetime.timedelta(minutes=1)}, "expired"),
        ({"valid_from": timezone.now() + datetime.timedelta(days=1)}, "not_yet_valid"),
    ],
)
def test_switched_off_or_out_of_window_pools_refuse_their_codes(change, reason):
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANKAAAA")
    type(pool).objects.filter(pk=pool.pk).update(**change)
    with pytest.raises(PartnerCodeInvalid) as refused:
        partners.accept_partner_code(code="BANKAAAA", member=factories.member(), external_ref="ORD-1")
    assert refused.value.reason == reason
    assert PartnerCode.objects.get().status == PartnerCode.Status.AVAILABLE


def test_an_erased_member_cannot_take_a_partner_code():
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANKAAAA")
    member = factories.member()
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ERASED)
    with pytest.raises(Exception, match="erased"):
        partners.accept_partner_code(code="BANKAAAA", member=member, external_ref="ORD-1")
    assert PartnerCode.objects.get().status == PartnerCode.Status.AVAILABLE


def test_the_raw_partner_code_is_not_a_coupon():
    """Only the coupon it becomes can be redeemed; the partner's code itself is no rewards coupon."""
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANKAAAA")
    with pytest.raises(CouponInvalid):
        coupons.redeem_coupon(code="BANKAAAA", member=factories.member(), external_ref="ORD-1")


# --- importing codes -----------------------------------------------------------------------


def test_import_normalises_skips_blank_and_repeated_codes():
    pool = accept_pool()
    result = partners.import_partner_codes(pool=pool, lines=["ab-12 cd", "", "AB12CD", "  xyz9  "])
    assert (result.added, result.already_in_pool) == (2, 0)
    assert sorted(PartnerCode.objects.values_list("code", flat=True)) == ["AB12CD", "XYZ9"]
    again = partners.import_partner_codes(pool=pool, lines=["AB12CD", "NEW1"])
    assert (again.added, again.already_in_pool) == (1, 1)


def test_import_is_all_or_nothing_and_names_the_line():
    first = accept_pool()
    partners.import_partner_codes(pool=first, lines=["TAKEN1"])
    second = accept_pool(name="other")
    with pytest.raises(ValidationError) as error:
        partners.import_partner_codes(pool=second, lines=["FINE1", "TAKEN1", "X" * 33])
    messages = error.value.message_dict["codes"]
    assert any("Line 2" in m and "TAKEN1" in m for m in messages)
    assert any("Line 3" in m for m in messages)
    assert not PartnerCode.objects.filter(pool=second).exists()


def test_import_of_nothing_is_refused():
    with pytest.raises(ValidationError, match="no codes"):
        partners.import_partner_codes(pool=accept_pool(), lines=["", "  "])


# --- the report ----------------------------------------------------------------------------


def test_report_arithmetic(django_capture_on_commit_callbacks):
    """Two months: coupons issued, used, rate, revenue of the orders that used them (net of refunds)."""
    offer = coupon_offer()
    pool = accept_pool(partner=offer.partner)
    partners.import_partner_codes(pool=pool, lines=["P1", "P2", "P3"])
    other = coupon_offer(partner=partner(code="cinema", name="影院"))  # another partner: not counted
    member = factories.member()
    now = timezone.localtime()
    this_month = now.date().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    # Last month: three coupons from three qualifying purchases; two are used.
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(3):
            post(member, "250.00", ref=f"OLD-{index}")
    old = list(Coupon.objects.filter(partner_offer_issue__offer=offer).order_by("pk"))
    Coupon.objects.filter(pk__in=[c.pk for c in old]).update(
        issued_at=timezone.make_aware(datetime.datetime.combine(last_month, datetime.time(12)))
    )
    assert other.issues.count() == 3
    for index, coupon in enumerate(old[:2]):
        used_on = post(member, "100.00", ref=f"USE-{index}", items=[line("110.00")], total=Decimal("100.00"))
        coupons.redeem_coupon(code=coupon.code, member=member, external_ref=used_on.purchase.external_ref)
    refund_purchase(purchase=used_on.purchase, external_ref="USE-1-R", amount=Decimal("40.00"))
    # This month: one partner code accepted (a coupon issued), not yet used.
    partners.accept_partner_code(code="P1", member=member, external_ref="NEW-1")
    report = selectors.partner_report(partner=offer.partner, months=2, today=now.date())
    assert [row.month for row in report] == [last_month, this_month]
    previous, current = report
    assert (previous.coupons_issued, previous.coupons_used, previous.redemption_rate) == (3, 2, Decimal("66.7"))
    assert (current.coupons_issued, current.coupons_used, current.redemption_rate) == (1, 0, Decimal("0.0"))
    assert current.codes_accepted == 1
    # Orders using the coupons were posted now (this month): 100.00 + 100.00 − 40.00 refunded.
    assert current.revenue == Decimal("160.00")
    assert previous.revenue == Decimal("0.00")


def test_report_of_a_partner_with_nothing_has_empty_months():
    report = selectors.partner_report(partner=partner(), months=6, today=datetime.date(2026, 3, 15))
    assert [row.month for row in report] == [datetime.date(2025, m, 1) for m in (10, 11, 12)] + [
        datetime.date(2026, m, 1) for m in (1, 2, 3)
    ]
    assert all(row.coupons_issued == 0 and row.redemption_rate is None for row in report)


def test_report_runs_a_fixed_number_of_queries(django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    offer = coupon_offer()
    member = factories.member()

    def sell(count):
        for _index in range(count):
            post_committed(django_capture_on_commit_callbacks, member, "300.00")

    sell(1)
    with CaptureQueriesContext(connection) as few:
        selectors.partner_report(partner=offer.partner)
    sell(12)
    with CaptureQueriesContext(connection) as many:
        report = selectors.partner_report(partner=offer.partner)
    assert report[-1].coupons_issued == 13
    assert len(many) == len(few) == 3
