"""Stored value as a tender (issue 16): the quote, the posting, returns and the receipt, through the
services and the API. Regular members get 10% off and earn 1 point per yuan paid; a top-up of ¥500
with a +¥100 rule leaves principal 500 and bonus 100, so a payment of ¥120 takes ¥100 principal
and ¥20 bonus (in proportion)."""

import json
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from members.models import Purchase, PurchaseItem
from members.services import PurchaseLine
from rewards import selectors
from rewards.errors import IdempotencyConflict, InsufficientBalance
from rewards.models import Coupon, EarningSettings, LedgerEntry, PurchasePosting, StoredValueEntry
from rewards.services import coupons as coupon_services
from rewards.services import earning, quote_return, refund_purchase
from rewards.services.checkout import STORED_VALUE, Tender, quote_checkout
from rewards.services.stored_value import split_payment
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import assert_ledger_invariants, post
from tests.rewards.stored_value_helpers import assert_stored_value_invariants, balances, fund, rule

pytestmark = pytest.mark.django_db
D = Decimal
QUOTE = "/api/v1/checkout/quote/"
PURCHASES = "/api/v1/purchases/"


def sv(amount: str) -> list[Tender]:
    return [Tender(STORED_VALUE, D(amount))]


def basket(*prices):
    return [PurchaseLine(sku=f"SKU-{i}", quantity=1, unit_price=D(p)) for i, p in enumerate(prices)]


@pytest.fixture
def member():
    """A member holding principal 500 and bonus 100."""
    member = factories.member()
    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    return member


def till_post(member, items, **kwargs):
    return post(member, items=items, apply_member_pricing=True, **kwargs)


def payments_of(purchase):
    return list(StoredValueEntry.objects.filter(purchase=purchase).order_by("id"))


# --- the quote ---------------------------------------------------------------------------------


def test_the_quote_shows_the_balance_takes_the_tender_and_earns_on_the_principal_share_only(member):
    quote = quote_checkout(member=member, items=basket("200.00"), tenders=sv("120.00"))
    # 200 − 10% = 180; 120 from stored value: 100 principal, 20 bonus; 60 left to pay in money
    assert quote.stored_value_balance == D("600.00")
    assert (quote.stored_value_used, quote.stored_value_principal, quote.stored_value_bonus) == (
        D("120.00"),
        D("100.00"),
        D("20.00"),
    )
    assert quote.amount_due == D("60.00")
    assert quote.points_to_earn == 160  # 60 money + 100 principal, never the 20 bonus
    assert quote.stored_value_message == ""


def test_the_quote_shares_the_split_with_the_payment(member):
    quote = quote_checkout(member=member, items=basket("200.00"), tenders=sv("77.77"))
    assert (quote.stored_value_principal, quote.stored_value_bonus) == split_payment(
        D("77.77"), D("500.00"), D("100.00")
    )


def test_the_quote_clamps_the_tender_to_the_balance_and_says_why(member):
    quote = quote_checkout(member=member, items=basket("1000.00"), tenders=sv("800.00"))
    assert quote.stored_value_used == D("600.00")
    assert quote.amount_due == D("300.00")  # 900 − 600
    assert "600" in quote.stored_value_message


def test_the_quote_clamps_the_tender_to_what_is_left_after_points(member):
    quote = quote_checkout(member=member, items=basket("100.00"), tenders=sv("500.00"))
    assert (quote.stored_value_used, quote.amount_due) == (D("90.00"), D("0.00"))
    assert quote.stored_value_message


def test_without_tenders_the_quote_reads_no_stored_value(member):
    plain = quote_checkout(member=member, items=basket("200.00"))
    assert plain.stored_value_balance is None
    assert (plain.stored_value_used, plain.amount_due) == (D("0.00"), D("180.00"))
    assert plain.points_to_earn == 180


@pytest.mark.parametrize(
    ("tenders", "words"),
    [
        ([{"kind": "gift_card", "amount": "1.00"}], "gift_card"),
        ([{"kind": STORED_VALUE, "amount": "-1.00"}], "negative"),
        ([{"kind": STORED_VALUE, "amount": "1.00"}, {"kind": STORED_VALUE, "amount": "2.00"}], "twice"),
        ([{"kind": STORED_VALUE, "amount": "1.001"}], "two decimal"),
        ([{"kind": STORED_VALUE, "amount": "abc"}], "two decimal"),
    ],
)
def test_a_bad_tender_is_refused_naming_the_problem(member, tenders, words):
    with pytest.raises(ValidationError) as refused:
        quote_checkout(member=member, items=basket("200.00"), tenders=tenders)
    assert words in " ".join(refused.value.message_dict["tenders"])


# --- posting -----------------------------------------------------------------------------------


def test_posting_pays_from_the_balance_in_the_same_transaction_and_earns_on_principal_only(member):
    result = till_post(member, basket("200.00"), tenders=sv("120.00"))
    assert result.purchase.total == D("180.00")  # money and stored value
    assert (result.stored_value_used, result.stored_value_principal, result.stored_value_bonus) == (
        D("120.00"),
        D("100.00"),
        D("20.00"),
    )
    assert result.stored_value_balance == D("480.00")
    assert result.points_earned == 160
    assert balances(member) == (D("400.00"), D("80.00"))
    (payment,) = payments_of(result.purchase)
    assert (payment.kind, payment.principal_delta, payment.bonus_delta) == ("payment", D("-100.00"), D("-20.00"))
    posting = PurchasePosting.objects.get(purchase=result.purchase)
    assert (posting.stored_value_paid, posting.stored_value_bonus, posting.stored_value_balance) == (
        D("120.00"),
        D("20.00"),
        D("480.00"),
    )
    assert_stored_value_invariants(member)
    assert_ledger_invariants(member)


def test_the_balance_may_pay_the_whole_purchase(member):
    result = till_post(member, basket("100.00"), tenders=sv("90.00"))
    assert result.stored_value_used == D("90.00")
    assert balances(member) == (D("425.00"), D("85.00"))
    assert result.points_earned == 75  # the principal share


@pytest.fixture
def bonus_share_earns():
    """Managers switch earning on the stored-value bonus share on (the admin saves the row, which
    drops the cached earning config)."""
    row, _created = EarningSettings.objects.get_or_create(pk=EarningSettings.SINGLETON_PK)
    row.earn_on_stored_value_bonus = True
    row.save()
    return row


def test_the_earning_setting_is_off_by_default():
    assert EarningSettings().earn_on_stored_value_bonus is False
    assert earning.earning_base(paid=D("180.00"), stored_value_bonus=D("20.00")) == D("160.00")


def test_with_the_setting_on_the_quote_earns_on_the_bonus_share_too(member, bonus_share_earns):
    quote = quote_checkout(member=member, items=basket("200.00"), tenders=sv("120.00"))
    assert (quote.stored_value_principal, quote.stored_value_bonus) == (D("100.00"), D("20.00"))
    assert quote.points_to_earn == 180  # 60 money + 100 principal + 20 bonus


def test_with_the_setting_on_the_posting_earns_on_the_bonus_share_too(member, bonus_share_earns):
    result = till_post(member, basket("200.00"), tenders=sv("120.00"))
    assert result.stored_value_bonus == D("20.00")
    assert result.points_earned == 180
    assert balances(member) == (D("400.00"), D("80.00"))  # the payment's split is unchanged


def test_switching_the_setting_back_off_earns_on_principal_only_again(member, bonus_share_earns):
    bonus_share_earns.earn_on_stored_value_bonus = False
    bonus_share_earns.save()
    quote = quote_checkout(member=member, items=basket("200.00"), tenders=sv("120.00"))
    assert quote.points_to_earn == 160
    assert till_post(member, basket("200.00"), tenders=sv("120.00")).points_earned == 160


def test_a_short_balance_refuses_the_posting_and_writes_nothing(member):
    coupon = coupon_services.issue_coupon(template=cf.template(), member=member, source=Coupon.Source.MANUAL)
    ledger_rows = LedgerEntry.objects.count()
    with pytest.raises(InsufficientBalance):
        till_post(member, basket("1000.00"), tenders=sv("700.00"), coupon_code=coupon.code, ref="SHORT-1")
    assert not Purchase.objects.filter(external_ref="SHORT-1").exists()
    assert not PurchaseItem.objects.filter(purchase__external_ref="SHORT-1").exists()
    assert LedgerEntry.objects.count() == ledger_rows
    assert balances(member) == (D("500.00"), D("100.00"))
    assert not StoredValueEntry.objects.filter(kind="payment").exists()
    coupon.refresh_from_db()
    assert coupon.redeemed_ref in (None, "")


def test_a_tender_above_what_is_left_to_pay_is_refused(member):
    with pytest.raises(ValidationError) as refused:
        till_post(member, basket("100.00"), tenders=sv("95.00"), ref="OVER-1")
    assert "tenders" in refused.value.message_dict
    assert not Purchase.objects.filter(external_ref="OVER-1").exists()


def test_a_walk_in_cannot_pay_from_stored_value():
    with pytest.raises(ValidationError) as refused:
        post(None, items=basket("100.00"), tenders=sv("10.00"))
    assert "tenders" in refused.value.message_dict


def test_a_retry_answers_the_first_result_and_pays_once_a_different_tender_conflicts(member):
    first = till_post(member, basket("200.00"), tenders=sv("120.00"), ref="RETRY-1")
    ordered_at = first.purchase.ordered_at
    again = till_post(member, basket("200.00"), tenders=sv("120.00"), ref="RETRY-1", ordered_at=ordered_at)
    assert (again.created, again.stored_value_used, again.stored_value_balance) == (False, D("120.00"), D("480.00"))
    assert len(payments_of(first.purchase)) == 1
    with pytest.raises(IdempotencyConflict):
        till_post(member, basket("200.00"), tenders=sv("100.00"), ref="RETRY-1", ordered_at=ordered_at)
    with pytest.raises(IdempotencyConflict):
        till_post(member, basket("200.00"), ref="RETRY-1", ordered_at=ordered_at)
    assert balances(member) == (D("400.00"), D("80.00"))


# --- returns -----------------------------------------------------------------------------------


def test_returning_goods_gives_the_stored_value_share_back_in_the_payments_proportion(member):
    result = till_post(member, basket("100.00", "100.00"), tenders=sv("120.00"))
    a, b = PurchaseItem.objects.filter(purchase=result.purchase).order_by("pk")
    quote = quote_return(purchase=result.purchase, lines=[(a.pk, 1)])
    # half the goods: ¥90 of the ¥180 paid, of which half the stored value (¥60) goes to the balance
    assert (quote.money_back, quote.stored_value_back) == (D("90.00"), D("60.00"))
    refund = refund_purchase(purchase=result.purchase, external_ref="RET-1", lines=[(a.pk, 1)])
    assert (refund.amount, refund.stored_value_returned, refund.money_back) == (D("90.00"), D("60.00"), D("30.00"))
    # the payment took 100 principal and 20 bonus: half of each comes back
    assert balances(member) == (D("450.00"), D("90.00"))
    refund_purchase(purchase=result.purchase, external_ref="RET-2", lines=[(b.pk, 1)])
    assert balances(member) == (D("500.00"), D("100.00"))
    posting = PurchasePosting.objects.get(purchase=result.purchase)
    assert posting.stored_value_returned == posting.stored_value_paid == D("120.00")
    assert_stored_value_invariants(member)
    assert_ledger_invariants(member)


def test_refunds_by_amount_return_the_stored_value_share_cumulatively_never_more_than_paid(member):
    result = till_post(member, basket("300.00"), tenders=sv("90.00"))  # total 270: a third stored value
    returned = []
    for index, amount in enumerate(["100.00", "100.00", "70.00"]):
        refund = refund_purchase(purchase=result.purchase, external_ref=f"AMT-{index}", amount=D(amount))
        returned.append(refund.stored_value_returned)
    assert returned == [D("33.33"), D("33.33"), D("23.34")]
    assert sum(returned) == D("90.00")
    assert balances(member) == (D("500.00"), D("100.00"))
    # the refund's retry gives nothing back twice
    again = refund_purchase(purchase=result.purchase, external_ref="AMT-0", amount=D("100.00"))
    assert again.created is False
    assert balances(member) == (D("500.00"), D("100.00"))
    assert_stored_value_invariants(member)


def test_a_purchase_without_stored_value_returns_nothing_to_the_balance(member):
    result = till_post(member, basket("100.00"))
    refund = refund_purchase(purchase=result.purchase, external_ref="PLAIN-1")
    assert refund.stored_value_returned == D("0.00")
    assert balances(member) == (D("500.00"), D("100.00"))


# --- the receipt -------------------------------------------------------------------------------


def test_the_receipt_shows_the_stored_value_paid_the_money_and_the_balance_after(member):
    result = till_post(member, basket("200.00"), tenders=sv("120.00"))
    receipt = selectors.receipt_for(result.purchase)
    assert (receipt.amount_paid, receipt.stored_value_paid, receipt.money_paid) == (
        D("180.00"),
        D("120.00"),
        D("60.00"),
    )
    assert receipt.stored_value_balance == D("480.00")


# --- the API -----------------------------------------------------------------------------------


def purchase_body(member, **extra):
    return {
        "member": member.member_no,
        "external_ref": "API-SV-1",
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "200.00"}],
        "tenders": [{"kind": "stored_value", "amount": "120.00"}],
    } | extra


def test_api_quote_takes_tenders_and_answers_the_stored_value(api_staff, member):
    body = {
        "member": member.member_no,
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "200.00"}],
        "tenders": [{"kind": "stored_value", "amount": "120.00"}],
    }
    answer = api_staff.post(QUOTE, body, format="json")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["stored_value_balance"], data["stored_value_used"], data["amount_due"]) == (
        "600.00",
        "120.00",
        "60.00",
    )
    assert (data["stored_value_principal"], data["stored_value_bonus"], data["points_to_earn"]) == (
        "100.00",
        "20.00",
        160,
    )
    without = api_staff.post(QUOTE, body | {"tenders": []}, format="json").json()
    assert (without["stored_value_balance"], without["stored_value_used"]) == ("600.00", "0.00")
    del body["tenders"]
    plain = api_staff.post(QUOTE, body, format="json").json()
    assert plain["stored_value_balance"] is None


def test_api_purchase_with_stored_value_is_201_and_a_retry_200(api_staff, member):
    answer = api_staff.post(PURCHASES, purchase_body(member), format="json")
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert (data["total"], data["stored_value_used"], data["stored_value_balance"]) == ("180.00", "120.00", "480.00")
    assert (data["stored_value_principal"], data["stored_value_bonus"], data["points_earned"]) == (
        "100.00",
        "20.00",
        160,
    )
    again = api_staff.post(PURCHASES, purchase_body(member), format="json")
    assert again.status_code == 200
    assert again.json() == data
    assert balances(member) == (D("400.00"), D("80.00"))


def test_api_purchase_beyond_the_balance_is_409_insufficient_balance_with_nothing_written(api_staff, member):
    body = purchase_body(
        member,
        items=[{"sku": "ROSE-11", "quantity": 1, "unit_price": "1000.00"}],
        tenders=[{"kind": "stored_value", "amount": "700.00"}],
    )
    answer = api_staff.post(PURCHASES, body, format="json")
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "insufficient_balance"
    assert not Purchase.objects.filter(external_ref="API-SV-1").exists()
    assert balances(member) == (D("500.00"), D("100.00"))


@pytest.mark.parametrize(
    "tenders",
    [
        [{"kind": "gift_card", "amount": "1.00"}],
        [{"kind": "stored_value", "amount": "-1.00"}],
        [{"kind": "stored_value", "amount": "1.00"}, {"kind": "stored_value", "amount": "2.00"}],
        [{"kind": "stored_value"}],
        "stored_value",
    ],
)
def test_api_bad_tenders_are_400_naming_the_field(api_staff, member, tenders):
    for url, body in [
        (PURCHASES, purchase_body(member, tenders=tenders)),
        (QUOTE, {"member": member.member_no, "items": purchase_body(member)["items"], "tenders": tenders}),
    ]:
        answer = api_staff.post(url, body, format="json")
        assert answer.status_code == 400, (url, answer.content)
        assert "tenders" in answer.json()["errors"] if "errors" in answer.json() else "tenders" in answer.json()
    assert not Purchase.objects.exists()


def test_api_refund_answers_the_stored_value_returned(api_staff, member):
    posted = api_staff.post(PURCHASES, purchase_body(member), format="json").json()
    answer = api_staff.post(f"{PURCHASES}{posted['id']}/refund/", {"external_ref": "API-RF-1"}, format="json")
    assert answer.status_code in (200, 201), answer.content
    assert (answer.json()["amount"], answer.json()["stored_value_returned"]) == ("180.00", "120.00")
    assert balances(member) == (D("500.00"), D("100.00"))


# --- the till pages ---------------------------------------------------------------------------


def till_client(user):
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def till_basket(member, **extra):
    factories.product("ROSE-11", "11枝红玫瑰花束", "200.00")
    return {"member_no": member.member_no, "lines": [{"sku": "ROSE-11", "quantity": 1}]} | extra


def till_quote(client, body):
    return client.post("/admin/till/quote/", json.dumps(body), content_type="application/json")


def till_confirm(client, body):
    return client.post(
        "/admin/till/confirm/",
        {"key": f"TILL-{uuid.uuid4().hex}", "basket": json.dumps(body), "payment_method": "wechat_pay"},
    )


def test_the_till_quote_shows_the_balance_and_the_stored_value_used(store_staff, member):
    client = till_client(store_staff)
    figures = till_quote(client, till_basket(member, stored_value="120")).json()
    assert (figures["stored_value_balance"], figures["stored_value_used"], figures["amount_due"]) == (
        "600.00",
        "120.00",
        "60.00",
    )
    assert figures["points_to_earn"] == 160
    empty = till_quote(client, till_basket(member, stored_value="")).json()
    assert (empty["stored_value_balance"], empty["stored_value_used"]) == ("600.00", "0.00")
    assert till_quote(client, till_basket(member)).json()["stored_value_balance"] is None
    refused = till_quote(client, till_basket(member, stored_value="-5"))
    assert refused.status_code == 400
    assert "negative" in refused.json()["error"]


def test_the_till_quote_with_stored_value_costs_one_query_more_and_none_without(store_staff, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = till_client(store_staff)
    plain = till_basket(member)
    with_tender = plain | {"stored_value": "120"}
    till_quote(client, plain)  # warm the per-process caches
    with CaptureQueriesContext(connection) as without:
        assert till_quote(client, plain).status_code == 200
    with CaptureQueriesContext(connection) as paying:
        assert till_quote(client, with_tender).status_code == 200
    assert len(paying) == len(without) + 1
    assert not any("storedvalue" in query["sql"] for query in without.captured_queries)


def test_confirming_at_the_till_pays_from_the_balance_and_the_receipt_shows_it(store_staff, member):
    client = till_client(store_staff)
    response = till_confirm(client, till_basket(member, stored_value="120.00"))
    assert response.status_code == 302, response.content.decode()[:2000]
    purchase = Purchase.objects.get()
    assert payments_of(purchase)[0].principal_delta == D("-100.00")
    assert balances(member) == (D("400.00"), D("80.00"))
    page = client.get(response["Location"]).content.decode()
    assert "Paid from stored value" in page and "¥120.00" in page and "¥480.00" in page


def test_confirming_beyond_the_balance_shows_the_reason_and_records_nothing(store_staff, member):
    client = till_client(store_staff)
    factories.product("BIG-1", "大花篮", "1000.00")
    body = {"member_no": member.member_no, "lines": [{"sku": "BIG-1", "quantity": 1}], "stored_value": "700"}
    response = till_confirm(client, body)
    assert response.status_code == 409
    assert "stored-value balance" in response.content.decode()
    assert not Purchase.objects.exists()


def staff_without_stored_value_payment():
    from django.contrib.auth.models import Permission

    from loyalty_crm.roles import STORE_STAFF
    from tests.conftest import make_user

    user = make_user("till-no-sv", STORE_STAFF)
    permission = Permission.objects.get(codename="pay_stored_value")
    for group in user.groups.all():
        group.permissions.remove(permission)
    user = type(user).objects.get(pk=user.pk)
    assert user.has_perm("rewards.add_purchaseposting") and not user.has_perm("rewards.pay_stored_value")
    return user


def test_staff_without_the_payment_permission_cannot_take_stored_value_at_the_till(member):
    user = staff_without_stored_value_payment()
    response = till_confirm(till_client(user), till_basket(member, stored_value="10"))
    assert response.status_code == 403
    assert not Purchase.objects.exists()
    assert balances(member) == (D("500.00"), D("100.00"))


def test_staff_without_the_payment_permission_cannot_take_stored_value_over_the_api(member):
    from tests.conftest import token_client

    api = token_client(staff_without_stored_value_payment())
    assert api.post(PURCHASES, purchase_body(member), format="json").status_code == 403
    assert not Purchase.objects.exists()
    body = purchase_body(member, tenders=[{"kind": "stored_value", "amount": "0.00"}])
    assert api.post(PURCHASES, body, format="json").status_code == 201


def test_topping_up_at_the_till_offers_the_rules_that_apply_and_records_once(store_staff, member):
    client = till_client(store_staff)
    bigger = rule("1000.00", "150.00", name="充1000送150")
    offered = client.get("/admin/till/top-up/", {"member_no": member.member_no, "amount": "1000"}).json()
    assert offered["rules"][0]["id"] == bigger.pk
    small = client.get("/admin/till/top-up/", {"member_no": member.member_no, "amount": "600"}).json()
    assert bigger.pk not in [r["id"] for r in small["rules"]]
    body = {
        "key": f"TOPUP-{uuid.uuid4().hex}",
        "member_no": member.member_no,
        "amount": "1000.00",
        "payment_method": "cash",
        "rule": str(bigger.pk),
    }
    first = client.post("/admin/till/top-up/", body)
    assert first.status_code == 201, first.content
    assert first.json()["stored_value_balance"] == "1750.00"
    again = client.post("/admin/till/top-up/", body)
    assert (again.status_code, again.json()["stored_value_balance"]) == (200, "1750.00")
    assert balances(member) == (D("1500.00"), D("250.00"))
    bad = client.post("/admin/till/top-up/", body | {"key": f"TOPUP-{uuid.uuid4().hex}", "amount": "-1"})
    assert bad.status_code == 400
    assert balances(member) == (D("1500.00"), D("250.00"))


def test_topping_up_at_the_till_needs_the_top_up_permission(member, support):
    client = till_client(support)
    assert client.get("/admin/till/top-up/", {"member_no": member.member_no, "amount": "1"}).status_code == 403


def test_the_returns_quote_shows_the_stored_value_share(store_staff, member):
    client = till_client(store_staff)
    till_confirm(client, till_basket(member, stored_value="120.00"))
    purchase = Purchase.objects.get()
    (item,) = PurchaseItem.objects.filter(purchase=purchase)
    figures = client.post(f"/admin/till/returns/{purchase.pk}/quote/", {f"qty-{item.pk}": "1"}).json()
    assert (figures["money_back"], figures["stored_value_back"]) == ("180.00", "120.00")


# --- two tills at once (PostgreSQL, real threads) ----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tills_paying_from_the_same_balance_at_once_one_201_one_409(store_staff):
    from rest_framework.test import APIClient

    from rewards.services import integrity
    from tests.conftest import token_client
    from tests.rewards.helpers import reseed_after_flush
    from tests.rewards.test_concurrency import run_at_once

    reseed_after_flush()
    member = factories.member()
    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    token = token_client(store_staff)._credentials["HTTP_AUTHORIZATION"]

    def till(index):
        def call():
            api = APIClient(raise_request_exception=False)
            api.credentials(HTTP_AUTHORIZATION=token)
            answer = api.post(
                PURCHASES,
                purchase_body(
                    member,
                    external_ref=f"TILL-SV-{index}",
                    items=[{"sku": "ROSE-11", "quantity": 1, "unit_price": "500.00"}],
                    tenders=[{"kind": "stored_value", "amount": "400.00"}],
                ),
                format="json",
            )
            return answer.status_code, answer.json()

        return call

    results = run_at_once([till(0), till(1)])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(status for status, _body in results) == [201, 409]
    (refused,) = [body for status, body in results if status == 409]
    assert refused["code"] == "insufficient_balance"
    (posted,) = [body for status, body in results if status == 201]
    assert Purchase.objects.count() == 1
    (payment,) = StoredValueEntry.objects.filter(kind="payment")
    assert payment.purchase.external_ref == posted["external_ref"]
    # 400 of 600 in proportion: 333.33 principal, 66.67 bonus; 200 left
    assert balances(member) == (D("166.67"), D("33.33"))
    assert posted["stored_value_balance"] == "200.00"
    assert_stored_value_invariants(member)
    assert_ledger_invariants(member)
    assert integrity.find_balance_mismatches() == []
