"""The management commands of `members`: export_member and erase_member (seed_demo is the
demo app's: tests/demo/)."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from members import services
from members.models import Member
from tests.members import factories

pytestmark = pytest.mark.django_db

# --- export_member -----------------------------------------------------------------------------


@pytest.fixture
def customer():
    member = factories.member(
        name="王小明", phone="13800138000", email="xiaoming@example.com", birthday=datetime.date(1990, 5, 17)
    )
    factories.purchase(member, total="199.00", ref="ORD-EXPORT-1")
    return member


def test_export_member_writes_decrypted_contact_data_and_purchases_as_json(customer):
    out = io.StringIO()
    call_command("export_member", customer.member_no, stdout=out)
    text = out.getvalue()
    data = json.loads(text)
    assert data["member_no"] == customer.member_no
    assert data["phone"] == "+8613800138000"
    assert data["email"] == "xiaoming@example.com"
    assert data["birthday"] == "1990-05-17"
    assert [p["external_ref"] for p in data["purchases"]] == ["ORD-EXPORT-1"]
    assert data["purchases"][0]["total"] == "199.00"
    assert "王小明" in text  # UTF-8, not \u escapes


def test_export_member_writes_a_utf8_file_with_output(customer, tmp_path):
    target = tmp_path / "export.json"
    call_command("export_member", customer.member_no, output=str(target), stderr=io.StringIO())
    assert json.loads(target.read_text(encoding="utf-8"))["name"] == "王小明"


def test_export_member_names_an_unknown_member_number():
    with pytest.raises(CommandError, match="M0000000000"):
        call_command("export_member", "M0000000000", stdout=io.StringIO())


# --- erase_member ------------------------------------------------------------------------------


def test_erase_member_with_yes_anonymises_and_keeps_purchases(customer):
    services.update_member(member=customer, name="王大明")
    factories.purchase(customer, total="88.00", ref="ORD-EXPORT-2")
    out = io.StringIO()
    call_command("erase_member", customer.member_no, yes=True, stdout=out)
    customer.refresh_from_db()
    assert customer.status == Member.Status.ERASED
    assert customer.name == services.ERASED_NAME
    assert (customer.phone, customer.email, customer.birthday) == (None, None, None)
    assert (customer.phone_hash, customer.email_hash) == ("", "")
    assert set(customer.history.values_list("name", flat=True)) == {services.ERASED_NAME}
    assert customer.purchases.count() == 2
    assert customer.purchases.aggregate(total=Sum("total"))["total"] == Decimal("287.00")
    assert customer.member_no in out.getvalue()
    assert "287.00" in out.getvalue()


def test_erase_member_does_nothing_when_the_confirmation_does_not_match(customer, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda *args: "M9999999999")
    with pytest.raises(CommandError, match="nothing was erased"):
        call_command("erase_member", customer.member_no, stdout=io.StringIO())
    customer.refresh_from_db()
    assert customer.status == Member.Status.ACTIVE
    assert customer.phone == "+8613800138000"
    assert customer.history.count() == 1


def test_erase_member_erases_when_the_number_is_typed(customer, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda *args: f" {customer.member_no} ")
    call_command("erase_member", customer.member_no, stdout=io.StringIO())
    customer.refresh_from_db()
    assert customer.is_erased


def test_erase_member_names_an_unknown_member_number():
    with pytest.raises(CommandError, match="M0000000000"):
        call_command("erase_member", "M0000000000", yes=True, stdout=io.StringIO())


def test_erase_member_says_when_the_member_was_already_erased(customer):
    services.erase_member(member=customer)
    out = io.StringIO()
    call_command("erase_member", customer.member_no, yes=True, stdout=out)
    assert "already erased" in out.getvalue()


def test_erase_member_records_the_operator_given_with_by(db, manager):
    from django.core.management import call_command

    from tests.members import factories

    member = factories.member(name="林晓")
    call_command("erase_member", member.member_no, "--yes", "--by", "manager", stdout=io.StringIO())
    assert member.history.first().history_user == manager
