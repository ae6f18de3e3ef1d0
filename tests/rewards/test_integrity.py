"""Invariant 1 checked and repaired: `find_balance_mismatches`, `repair_balances`, `recompute_balances`."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from rewards import services
from rewards.models import BalanceCorrection, LedgerEntry, PointsAccount
from rewards.services.integrity import find_balance_mismatches, repair_balances
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, next_ref, post

pytestmark = pytest.mark.django_db


def corrupt(member, *, balance: int = 0, earned: int = 0) -> None:
    """Change the account row behind the services' back, as a bad SQL script would."""
    PointsAccount.objects.filter(member=member).update(
        balance=F("balance") + balance, lifetime_earned=F("lifetime_earned") + earned
    )


def ledger_rows():
    return list(LedgerEntry.objects.order_by("id").values_list("id", "kind", "points", "balance_after", "reason"))


def run(*args) -> str:
    out = StringIO()
    call_command("recompute_balances", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def busy_member(manager):
    """A member whose ledger has every kind of row the services write: earn, refund reversal,
    positive and negative adjustments, and a backfilled earn that expired at once."""
    member = factories.member()
    posted = post(member, "300.00")
    services.refund_purchase(purchase=posted.purchase, external_ref=next_ref("R"), amount="100.00")
    services.adjust_points(member=member, points=25, reason="goodwill", actor=manager)
    services.adjust_points(member=member, points=-5, reason="typo", actor=manager)
    post(member, "40.00", ordered_at=timezone.now() - datetime.timedelta(days=3 * 365))
    return member


def test_accounts_kept_by_the_services_match_their_ledger(busy_member):
    assert find_balance_mismatches() == []


def test_a_corrupted_balance_is_reported_with_both_figures(busy_member):
    before = account_of(busy_member).balance
    corrupt(busy_member, balance=-30)
    [mismatch] = find_balance_mismatches()
    assert (mismatch.member_no, mismatch.balance, mismatch.ledger_balance) == (
        busy_member.member_no,
        before - 30,
        before,
    )
    assert mismatch.balance_difference == -30


def test_a_corrupted_lifetime_earned_is_reported(busy_member):
    earned = account_of(busy_member).lifetime_earned
    corrupt(busy_member, earned=10)
    [mismatch] = find_balance_mismatches()
    assert (mismatch.lifetime_earned, mismatch.ledger_lifetime_earned) == (earned + 10, earned)


def test_an_account_without_ledger_rows_but_with_a_balance_is_reported(busy_member):
    other = factories.member(name="李四")
    PointsAccount.objects.create(member=other, balance=7, lifetime_earned=7, tier=account_of(busy_member).tier)
    assert [m.member_no for m in find_balance_mismatches()] == [other.member_no]


def test_finding_mismatches_is_one_query(busy_member, django_assert_num_queries):
    for index in range(3):
        post(factories.member(name=f"m{index}"), "10.00")
    with django_assert_num_queries(1):
        find_balance_mismatches()


def test_repair_corrects_the_account_to_its_ledger(busy_member, manager):
    corrupt(busy_member, balance=-30, earned=10)
    [repaired] = repair_balances(actor=manager)
    assert repaired.member_no == busy_member.member_no
    assert find_balance_mismatches() == []
    assert_ledger_invariants(busy_member)


def test_each_repair_is_recorded_with_the_figures_and_who_ran_it(busy_member, manager):
    before = account_of(busy_member)
    corrupt(busy_member, balance=-30, earned=10)
    repair_balances(actor=manager)
    [record] = BalanceCorrection.objects.all()
    assert (record.member_id, record.account_id, record.actor) == (busy_member.pk, before.pk, manager)
    assert (record.balance_before, record.balance_after) == (before.balance - 30, before.balance)
    assert (record.lifetime_earned_before, record.lifetime_earned_after) == (
        before.lifetime_earned + 10,
        before.lifetime_earned,
    )
    with pytest.raises(TypeError):
        record.save()
    with pytest.raises(TypeError):
        record.delete()
    repair_balances()  # nothing left to correct: no second record
    assert BalanceCorrection.objects.count() == 1


def test_managers_read_the_corrections_in_the_admin_and_store_staff_do_not(busy_member, manager, store_staff, client):
    corrupt(busy_member, balance=-5)
    repair_balances(actor=manager)
    url = "/admin/rewards/balancecorrection/"
    client.force_login(manager)
    page = client.get(url)
    assert page.status_code == 200 and busy_member.member_no in page.content.decode()
    assert client.get(url + "add/").status_code == 403
    client.force_login(store_staff)
    assert client.get(url).status_code == 403


def test_repair_never_changes_or_removes_a_ledger_row(busy_member):
    rows = ledger_rows()
    corrupt(busy_member, balance=-30)
    repair_balances()
    assert ledger_rows() == rows


def test_repair_leaves_matching_accounts_alone(busy_member):
    healthy = factories.member(name="李四")
    post(healthy, "10.00")
    corrupt(busy_member, balance=-1)
    stamp = account_of(healthy).updated_at
    assert [m.member_no for m in repair_balances()] == [busy_member.member_no]
    assert account_of(healthy).updated_at == stamp


def test_check_on_a_clean_database_says_all_accounts_match(busy_member):
    post(factories.member(name="李四"), "10.00")
    assert "All 2 accounts match their ledger." in run("--check")


def test_check_is_the_default(busy_member):
    corrupt(busy_member, balance=-30)
    with pytest.raises(CommandError):
        run()


def test_check_lists_each_mismatch_and_exits_1(busy_member):
    balance = account_of(busy_member).balance
    corrupt(busy_member, balance=-30)
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("recompute_balances", "--check", stdout=out, stderr=StringIO())
    assert error.value.returncode == 1
    assert "1 of 1 accounts do not match" in str(error.value)
    line = out.getvalue()
    assert busy_member.member_no in line
    assert f"account balance {balance - 30}, ledger sum {balance}" in line


def test_check_exit_status_from_the_command_line(busy_member, capsys):
    corrupt(busy_member, balance=-30)
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "recompute_balances", "--check"])
    assert exited.value.code == 1


def test_check_finds_mismatches_across_batches(busy_member):
    others = [factories.member(name=f"m{index}") for index in range(3)]
    for member in others:
        post(member, "10.00")
    corrupt(busy_member, balance=-1)
    corrupt(others[-1], balance=-2)
    out = StringIO()
    with pytest.raises(CommandError, match="2 of 4 accounts"):
        call_command("recompute_balances", "--batch-size", "1", stdout=out, stderr=StringIO())


def test_fix_repairs_then_check_passes_and_the_ledger_only_grows(busy_member):
    rows = ledger_rows()
    corrupt(busy_member, balance=-30, earned=10)
    out = run("--fix")
    assert "Corrected 1 of 1 accounts" in out
    assert busy_member.member_no in out
    assert "All 1 accounts match their ledger." in run("--check")
    assert ledger_rows()[: len(rows)] == rows


def test_check_and_fix_cannot_be_combined(busy_member):
    with pytest.raises(CommandError):
        run("--check", "--fix")


def test_the_busy_member_covers_every_kind_the_lifetime_sum_depends_on(busy_member):
    kinds = set(LedgerEntry.objects.filter(member=busy_member).values_list("kind", flat=True))
    assert kinds == {"earn", "refund_reversal", "adjustment", "expire"}


def test_help_renders():
    from rewards.management.commands.recompute_balances import Command

    assert "--fix" in Command().create_parser("manage.py", "recompute_balances").format_help()
