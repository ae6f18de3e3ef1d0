"""Stored value (储值卡): top-ups, payments, refunds, cash-out, adjustments, bonus expiry, gifts."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from members.services import MemberErased
from rewards.errors import (
    GiftUnavailable,
    IdempotencyConflict,
    InsufficientBalance,
    PaymentRefundExceeded,
    TopUpRuleUnavailable,
)
from rewards.models import LedgerEntry, StoredValueAccount, StoredValueEntry, StoredValueGift, TopUp
from rewards.selectors_stored_value import applicable_rules, liability, members_with_bonus_lapsing, wallet
from rewards.services import stored_value
from rewards.services.integrity import find_stored_value_mismatches
from rewards.services.stored_value import split_payment, split_refund
from tests.members import factories
from tests.rewards.helpers import next_ref, post
from tests.rewards.stored_value_helpers import assert_stored_value_invariants, balances, fund, rule

pytestmark = pytest.mark.django_db
D = Decimal
Kind = StoredValueEntry.Kind


def pay(member, amount, **kwargs):
    return stored_value.pay_from_balance(
        member=member, amount=amount, external_ref=kwargs.pop("external_ref", None) or next_ref("PAY"), **kwargs
    )


# --- the arithmetic ---


@pytest.mark.parametrize(
    ("amount", "principal", "bonus", "expected"),
    [
        ("110.00", "500.00", "50.00", ("100.00", "10.00")),
        ("550.00", "500.00", "50.00", ("500.00", "50.00")),
        ("0.01", "500.00", "50.00", ("0.01", "0.00")),  # 0.0090909… rounds half-up to 0.01
        ("0.01", "0.00", "3.00", ("0.00", "0.01")),
        ("1.00", "1.00", "2.00", ("0.33", "0.67")),
        ("10.00", "0.05", "9.95", ("0.05", "9.95")),
    ],
)
def test_a_payment_takes_principal_and_bonus_in_proportion(amount, principal, bonus, expected):
    assert split_payment(D(amount), D(principal), D(bonus)) == (D(expected[0]), D(expected[1]))


def test_a_split_never_takes_more_than_either_balance():
    for principal_cents in range(0, 60, 7):
        for bonus_cents in range(0, 60, 5):
            total = principal_cents + bonus_cents
            for amount_cents in range(1, total + 1):
                p, b = split_payment(D(amount_cents) / 100, D(principal_cents) / 100, D(bonus_cents) / 100)
                assert D(0) <= p <= D(principal_cents) / 100 and D(0) <= b <= D(bonus_cents) / 100
                assert p + b == D(amount_cents) / 100


def test_refunds_return_the_payment_proportion_and_the_last_returns_the_rest():
    first = split_refund(
        D("0.01"), paid_principal=D("1.00"), paid_bonus=D("0.10"), left_principal=D("1.00"), left_bonus=D("0.10")
    )
    assert first == (D("0.01"), D("0.00"))
    rest = split_refund(
        D("1.09"), paid_principal=D("1.00"), paid_bonus=D("0.10"), left_principal=D("0.99"), left_bonus=D("0.10")
    )
    assert rest == (D("0.99"), D("0.10"))


# --- top-ups ---


def test_a_top_up_with_a_rule_adds_principal_and_bonus_on_separate_rows():
    member, store = factories.member(), factories.store()
    offer = rule("500.00", "50.00")
    result = fund(member, "500.00", with_rule=offer, store=store)
    assert result.created and (result.principal, result.bonus) == (D("500.00"), D("50.00"))
    rows = list(StoredValueEntry.objects.order_by("id").values_list("kind", "principal_delta", "bonus_delta"))
    assert rows == [(Kind.TOP_UP, D("500.00"), D("0.00")), (Kind.BONUS, D("0.00"), D("50.00"))]
    assert TopUp.objects.get().rule == offer
    assert StoredValueEntry.objects.filter(store=store).count() == 2
    assert_stored_value_invariants(member)


def test_a_top_up_without_a_rule_gives_no_bonus_even_when_one_would_apply():
    member = factories.member()
    rule("500.00", "50.00")
    result = fund(member, "800.00")
    assert (result.principal, result.bonus) == (D("800.00"), D("0.00"))


def test_a_top_up_retry_answers_the_first_result_and_a_different_body_conflicts():
    member = factories.member()
    offer = rule()
    first = fund(member, "500.00", with_rule=offer, external_ref="TU-1")
    fund(member, "100.00")  # the balance moves on; the retry still answers the first result
    again = fund(member, "500.00", with_rule=offer, external_ref="TU-1")
    assert not again.created and again.top_up == first.top_up
    assert (again.principal, again.bonus) == (D("500.00"), D("50.00"))
    with pytest.raises(IdempotencyConflict):
        fund(member, "600.00", with_rule=offer, external_ref="TU-1")
    with pytest.raises(IdempotencyConflict):
        fund(factories.member(), "500.00", with_rule=offer, external_ref="TU-1")
    assert TopUp.objects.count() == 2
    assert balances(member) == (D("600.00"), D("50.00"))


def test_a_rule_refuses_a_smaller_top_up_an_inactive_or_out_of_date_offer():
    member = factories.member()
    today = timezone.localdate()
    with pytest.raises(TopUpRuleUnavailable):
        fund(member, "499.99", with_rule=rule())
    with pytest.raises(TopUpRuleUnavailable):
        fund(member, "500.00", with_rule=rule(is_active=False))
    with pytest.raises(TopUpRuleUnavailable):
        fund(member, "500.00", with_rule=rule(valid_until=today - datetime.timedelta(days=1)))
    with pytest.raises(TopUpRuleUnavailable):
        fund(member, "500.00", with_rule=rule(valid_from=today + datetime.timedelta(days=1)))
    assert not StoredValueEntry.objects.exists() and not TopUp.objects.exists()


def test_a_once_per_member_rule_is_refused_the_second_time_and_not_offered_again():
    member = factories.member()
    once = rule("100.00", "20.00", once_per_member=True)
    repeatable = rule("100.00", "10.00")
    assert applicable_rules(member, D("100.00")) == [once, repeatable]
    fund(member, "100.00", with_rule=once)
    with pytest.raises(TopUpRuleUnavailable):
        fund(member, "100.00", with_rule=once)
    assert applicable_rules(member, D("100.00")) == [repeatable]
    fund(member, "100.00", with_rule=repeatable)
    fund(member, "100.00", with_rule=repeatable)
    assert balances(member) == (D("300.00"), D("40.00"))
    assert applicable_rules(factories.member(), D("100.00")) == [once, repeatable]


def test_applicable_rules_offers_the_largest_bonus_the_amount_reaches_first():
    member = factories.member()
    small, large = rule("500.00", "50.00"), rule("1000.00", "150.00")
    assert applicable_rules(member, D("999.99")) == [small]
    assert applicable_rules(member, D("1000.00")) == [large, small]
    assert applicable_rules(member, D("499.99")) == []


def test_a_rule_with_points_grants_them_through_the_points_ledger():
    member = factories.member()
    before = LedgerEntry.objects.filter(member=member).count()
    fund(member, "500.00", with_rule=rule(points=200), external_ref="TU-PTS")
    entry = LedgerEntry.objects.filter(member=member).order_by("-id").first()
    assert LedgerEntry.objects.filter(member=member).count() == before + 1
    assert (entry.kind, entry.points, entry.reason_code, entry.reason_params) == (
        LedgerEntry.Kind.BONUS,
        200,
        LedgerEntry.Reason.TOP_UP,
        {"ref": "TU-PTS"},
    )
    assert entry.reason == "" and entry.reason_text == "Top-up TU-PTS"
    assert TopUp.objects.get().points == 200


@pytest.mark.parametrize(
    ("amount", "method", "field"),
    [
        ("0", "cash", "amount"),
        ("-5", "cash", "amount"),
        ("100000.01", "cash", "amount"),
        ("1.001", "cash", "amount"),
        ("abc", "cash", "amount"),
        ("NaN", "cash", "amount"),
        ("100", "stored_value", "payment_method"),
        ("100", "bitcoin", "payment_method"),
    ],
)
def test_bad_top_ups_are_refused_naming_the_field(amount, method, field):
    with pytest.raises(ValidationError) as error:
        fund(factories.member(), amount, payment_method=method)
    assert field in error.value.message_dict
    assert not StoredValueEntry.objects.exists()


def test_an_inactive_member_cannot_top_up_or_pay():
    member = factories.member()
    fund(member, "100.00")
    type(member).objects.filter(pk=member.pk).update(status="frozen")
    with pytest.raises(MemberErased):
        fund(member, "100.00")
    with pytest.raises(MemberErased):
        pay(member, "10.00")


# --- payments ---


def test_a_payment_takes_in_proportion_and_records_the_purchase():
    member = factories.member()
    fund(member, "500.00", with_rule=rule())
    purchase = post(member, "200.00").purchase
    result = pay(member, "110.00", purchase=purchase)
    assert (result.principal_delta, result.bonus_delta) == (D("-100.00"), D("-10.00"))
    assert (result.principal, result.bonus) == (D("400.00"), D("40.00"))
    assert result.entry.purchase == purchase
    assert_stored_value_invariants(member)


def test_a_short_balance_refuses_the_payment_and_writes_nothing():
    member = factories.member()
    fund(member, "100.00")
    rows = StoredValueEntry.objects.count()
    with pytest.raises(InsufficientBalance):
        pay(member, "100.01")
    assert StoredValueEntry.objects.count() == rows
    assert balances(member) == (D("100.00"), D("0.00"))
    with pytest.raises(InsufficientBalance):
        pay(factories.member(), "1.00")  # no account at all


def test_the_whole_balance_can_be_spent_to_zero():
    member = factories.member()
    fund(member, "500.00", with_rule=rule())
    result = pay(member, "550.00")
    assert (result.principal, result.bonus) == (D("0.00"), D("0.00"))
    assert_stored_value_invariants(member)


def test_a_payment_retry_answers_the_first_result_and_another_amount_conflicts():
    member = factories.member()
    fund(member, "300.00")
    first = pay(member, "100.00", external_ref="PAY-1")
    again = pay(member, "100.00", external_ref="PAY-1")
    assert not again.created and again.entry == first.entry and again.principal == D("200.00")
    with pytest.raises(IdempotencyConflict):
        pay(member, "90.00", external_ref="PAY-1")
    assert balances(member) == (D("200.00"), D("0.00"))


def test_a_refused_payment_leaves_the_callers_transaction_usable():
    member = factories.member()
    with pytest.raises(InsufficientBalance):
        pay(member, "10.00")
    fund(member, "10.00")  # same test transaction: still usable
    assert balances(member) == (D("10.00"), D("0.00"))


# --- refunds ---


def test_a_refund_returns_in_the_payment_proportion_never_more_than_paid():
    member = factories.member()
    fund(member, "500.00", with_rule=rule())
    payment = pay(member, "110.00").entry
    fund(member, "1000.00")  # the current proportion changes; the refund follows the payment's
    part = stored_value.refund_to_balance(payment=payment, amount="55.00", external_ref="R-1")
    assert (part.principal_delta, part.bonus_delta) == (D("50.00"), D("5.00"))
    rest = stored_value.refund_to_balance(payment=payment, external_ref="R-2")
    assert (rest.principal_delta, rest.bonus_delta) == (D("50.00"), D("5.00"))
    with pytest.raises(PaymentRefundExceeded):
        stored_value.refund_to_balance(payment=payment, amount="0.01", external_ref="R-3")
    assert balances(member) == (D("1500.00"), D("50.00"))
    assert_stored_value_invariants(member)


def test_a_refund_above_what_is_left_is_refused_and_a_retry_answers_the_first():
    member = factories.member()
    fund(member, "100.00")
    payment = pay(member, "60.00").entry
    first = stored_value.refund_to_balance(payment=payment, amount="20.00", external_ref="R-1")
    with pytest.raises(PaymentRefundExceeded):
        stored_value.refund_to_balance(payment=payment, amount="40.01", external_ref="R-2")
    again = stored_value.refund_to_balance(payment=payment, amount="20.00", external_ref="R-1")
    assert not again.created and again.entry == first.entry
    with pytest.raises(IdempotencyConflict):
        stored_value.refund_to_balance(payment=payment, amount="30.00", external_ref="R-1")
    assert balances(member) == (D("60.00"), D("0.00"))


def test_a_refund_by_purchase_finds_its_single_payment():
    member = factories.member()
    fund(member, "100.00")
    purchase = post(member, "80.00").purchase
    pay(member, "80.00", purchase=purchase)
    result = stored_value.refund_to_balance(purchase=purchase, external_ref="R-P")
    assert result.entry.purchase == purchase and result.principal == D("100.00")
    with pytest.raises(ValidationError):
        stored_value.refund_to_balance(purchase=post(member, "10.00").purchase, external_ref="R-NONE")


def test_a_refunded_bonus_keeps_the_end_date_of_the_lots_it_came_from():
    member = factories.member()
    fund(member, "100.00", with_rule=rule("100.00", "100.00", bonus_expires_after_days=30))
    payment = pay(member, "100.00").entry  # 50 principal, 50 bonus from the dated lot
    assert payment.bonus_expires_on == timezone.localdate() + datetime.timedelta(days=30)
    stored_value.refund_to_balance(payment=payment, external_ref="R-B")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        run = stored_value.expire_stored_value_bonuses()
    assert run.amount == D("100.00")
    assert balances(member) == (D("100.00"), D("0.00"))
    assert_stored_value_invariants(member)


# --- cash-out and adjustments ---


def test_a_cash_out_pays_back_the_principal_and_the_bonus_lapses_on_the_same_row(manager):
    member = factories.member()
    fund(member, "500.00", with_rule=rule())
    pay(member, "110.00")
    result = stored_value.cash_out(member=member, external_ref="CO-1", actor=manager)
    assert (result.principal_delta, result.bonus_delta) == (D("-400.00"), D("-40.00"))
    assert (result.principal, result.bonus) == (D("0.00"), D("0.00"))
    assert result.entry.actor_username == "manager"
    assert not stored_value.cash_out(member=member, external_ref="CO-1", actor=manager).created
    with pytest.raises(InsufficientBalance):
        stored_value.cash_out(member=member, external_ref="CO-2", actor=manager)
    assert_stored_value_invariants(member)


def test_an_adjustment_needs_a_reason_and_cannot_go_below_zero(manager):
    member = factories.member()
    fund(member, "100.00")
    with pytest.raises(ValidationError):
        stored_value.adjust_balance(member=member, principal_delta="10.00", reason=" ", actor=manager)
    with pytest.raises(ValidationError):
        stored_value.adjust_balance(member=member, reason="nothing", actor=manager)
    with pytest.raises(InsufficientBalance):
        stored_value.adjust_balance(member=member, bonus_delta="-0.01", reason="typo", actor=manager)
    result = stored_value.adjust_balance(
        member=member, principal_delta="-20.00", bonus_delta="15.00", reason="till miscount", actor=manager
    )
    assert (result.principal, result.bonus) == (D("80.00"), D("15.00"))
    assert (result.entry.reason, result.entry.actor) == ("till miscount", manager)
    stored_value.adjust_balance(member=member, bonus_delta="-5.00", reason="goodwill undone", actor=manager)
    assert_stored_value_invariants(member)


# --- bonus expiry ---


def test_a_dated_bonus_lapses_after_its_day_and_a_second_run_finds_nothing():
    member = factories.member()
    fund(member, "500.00", with_rule=rule("500.00", "50.00", bonus_expires_after_days=10))
    fund(member, "500.00", with_rule=rule("500.00", "20.00", name="forever"))
    pay(member, "107.00")  # bonus share 7.00 drawn from the dated lot first
    end = timezone.localdate() + datetime.timedelta(days=10)
    assert stored_value.expire_stored_value_bonuses(today=end).accounts == 0  # lapses after its last day
    run = stored_value.expire_stored_value_bonuses(today=end + datetime.timedelta(days=1))
    assert (run.accounts, run.amount) == (1, D("43.00"))
    assert stored_value.expire_stored_value_bonuses(today=end + datetime.timedelta(days=2)).accounts == 0
    assert balances(member)[1] == D("20.00")
    assert StoredValueEntry.objects.filter(kind=Kind.BONUS_EXPIRY).get().bonus_delta == D("-43.00")
    assert_stored_value_invariants(member)


def test_the_expiry_task_is_scheduled_nightly():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Expire stored-value bonuses (nightly)")
    assert task.task == "rewards.expire_stored_value_bonuses" and task.enabled


# --- gifts ---


def test_a_gift_moves_principal_from_the_buyer_to_the_member_with_that_phone():
    buyer = factories.member()
    fund(buyer, "500.00", with_rule=rule())
    recipient = factories.member(phone="13912345678")
    sent = stored_value.send_gift(buyer=buyer, recipient_phone="+86 139 1234 5678", amount="200.00", external_ref="G-1")
    assert (sent.principal, sent.bonus) == (D("300.00"), D("50.00"))
    assert StoredValueGift.objects.get().code_hash != sent.code
    again = stored_value.send_gift(buyer=buyer, recipient_phone="13912345678", amount="200.00", external_ref="G-1")
    assert not again.created and again.code == sent.code
    assert liability().unclaimed_gifts == D("200.00")
    claimed = stored_value.claim_gift(code=sent.code.lower(), member=recipient)
    assert claimed.principal == D("200.00")
    with pytest.raises(GiftUnavailable) as error:
        stored_value.claim_gift(code=sent.code, member=recipient)
    assert error.value.code == "gift_already_claimed"
    assert liability().unclaimed_gifts == D("0.00")
    assert_stored_value_invariants(buyer)
    assert_stored_value_invariants(recipient)


def test_a_gift_is_refused_for_another_phone_an_unknown_code_or_a_short_principal():
    buyer = factories.member()
    fund(buyer, "100.00", with_rule=rule("100.00", "100.00"))
    with pytest.raises(InsufficientBalance):  # the bonus cannot be given away
        stored_value.send_gift(buyer=buyer, recipient_phone="13912345678", amount="100.01", external_ref="G-X")
    with pytest.raises(ValidationError) as error:
        stored_value.send_gift(buyer=buyer, recipient_phone="12", amount="10.00", external_ref="G-Y")
    assert "recipient_phone" in error.value.message_dict
    sent = stored_value.send_gift(buyer=buyer, recipient_phone="13912345678", amount="50.00", external_ref="G-1")
    with pytest.raises(GiftUnavailable) as error:
        stored_value.claim_gift(code=sent.code, member=factories.member(phone="13700000001"))
    assert error.value.code == "gift_not_yours"
    with pytest.raises(GiftUnavailable) as error:
        stored_value.claim_gift(code="NOSUCHCODE22", member=buyer)
    assert error.value.code == "gift_unknown"
    assert StoredValueGift.objects.get().claimed_by is None


# --- liability and integrity ---


def test_the_liability_report_sums_by_store_and_month_to_what_the_accounts_hold(manager):
    north, south = factories.store("n-1", "北店"), factories.store("s-1", "南店")
    first, second = factories.member(), factories.member()
    fund(first, "500.00", with_rule=rule(), store=north)
    fund(second, "1000.00", store=south)
    pay(first, "110.00", store=south)
    stored_value.cash_out(member=second, external_ref="CO", actor=manager, store=south)
    report = liability()
    assert (report.principal, report.bonus) == (D("400.00"), D("40.00"))
    rows = {row.store: row for row in report.rows}
    assert (rows["北店"].topped_up, rows["北店"].bonus_given) == (D("500.00"), D("50.00"))
    assert (rows["南店"].spent_principal, rows["南店"].spent_bonus, rows["南店"].cashed_out) == (
        D("100.00"),
        D("10.00"),
        D("1000.00"),
    )
    assert sum(row.principal_owed for row in report.rows) == report.principal
    assert sum(row.bonus_owed for row in report.rows) == report.bonus
    [month] = report.months
    assert (month["topped_up"], month["spent"], month["principal_owed"]) == (D("1500.00"), D("110.00"), D("400.00"))


def test_recompute_balances_reports_a_stored_value_account_changed_behind_the_services():
    member = factories.member()
    fund(member, "100.00", with_rule=rule("100.00", "10.00"))
    assert find_stored_value_mismatches() == []
    StoredValueAccount.objects.filter(member=member).update(principal=F("principal") + 1)
    [mismatch] = find_stored_value_mismatches()
    assert (mismatch.principal, mismatch.ledger_principal, mismatch.bonus, mismatch.lots_bonus) == (
        D("101.00"),
        D("100.00"),
        D("10.00"),
        D("10.00"),
    )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("recompute_balances", stdout=out, stderr=StringIO())
    assert member.member_no in out.getvalue()
    with pytest.raises(CommandError):  # --fix does not touch money: still reported, still failing
        call_command("recompute_balances", "--fix", stdout=StringIO(), stderr=StringIO())
    assert StoredValueAccount.objects.get(member=member).principal == D("101.00")


def test_the_wallet_shows_balances_newest_rows_and_what_will_lapse():
    member = factories.member()
    assert wallet(member).total == D("0.00")
    fund(member, "500.00", with_rule=rule(bonus_expires_after_days=30))
    pay(member, "10.00")
    seen = wallet(member)
    assert seen.total == D("540.00")
    assert [entry.kind for entry in seen.entries] == [Kind.PAYMENT, Kind.BONUS, Kind.TOP_UP]
    assert seen.expiring_bonus == [(seen.bonus, timezone.localdate() + datetime.timedelta(days=30))]


def test_ledger_rows_are_never_updated_or_deleted():
    member = factories.member()
    fund(member, "10.00")
    entry = StoredValueEntry.objects.get()
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        StoredValueEntry.objects.update(reason="x")
    with pytest.raises(TypeError):
        entry.delete()


def test_members_whose_bonus_lapses_soon_are_found_for_a_reminder():
    soon, later, spent = factories.member(), factories.member(), factories.member()
    fund(soon, "500.00", with_rule=rule(bonus_expires_after_days=10))
    fund(later, "500.00", with_rule=rule(bonus_expires_after_days=60, name="later"))
    fund(spent, "500.00", with_rule=rule(bonus_expires_after_days=10, name="spent"))
    stored_value.cash_out(member=spent, external_ref="CO-S")
    today = timezone.localdate()
    assert list(members_with_bonus_lapsing(today, today + datetime.timedelta(days=30))) == [soon]
