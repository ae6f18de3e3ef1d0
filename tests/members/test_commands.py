"""The management commands of `members`: seed_demo, export_member and erase_member."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT
from members import demo, services
from members.models import (
    Category,
    Consent,
    ConsentEvent,
    ConsentSource,
    Interaction,
    Member,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    ServiceRecord,
    Store,
)
from tests.members import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development_mode(settings):
    """seed_demo runs only in development (DEBUG on); the test runner turns DEBUG off."""
    settings.DEBUG = True


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO(), **{"members": 50, **options})
    return out.getvalue()


def seed_and_forget(**options) -> list:
    """The digest of a seed run whose rows are then rolled back (with `rewards` installed the
    purchases carry ledger rows, which are never deleted)."""
    with transaction.atomic():
        seed(**options)
        produced = digest()
        transaction.set_rollback(True)
    return produced


def digest() -> list:
    """What a seed run produced, independent of database ids and random member numbers."""
    members = [
        (
            m.name,
            m.gender,
            m.phone,
            m.email,
            m.birthday,
            m.registered_at,
            m.home_store.code,
            m.status,
            m.source_channel,
            m.notes,
            sorted(m.tags.values_list("name", flat=True)),
        )
        for m in Member.objects.select_related("home_store").order_by("id")
    ]
    purchases = [
        (p.member.name, p.ordered_at, p.store.code, p.channel, p.payment_method, p.subtotal, p.discount_total, p.total)
        for p in Purchase.objects.select_related("member", "store").order_by("id")
    ]
    items = list(PurchaseItem.objects.order_by("id").values_list("sku", "quantity", "unit_price", "discount"))
    records = [
        list(ServiceRecord.objects.order_by("id").values_list("kind", "status", "summary", "opened_at")),
        list(Interaction.objects.order_by("id").values_list("kind", "channel", "summary", "occurred_at")),
        list(Preference.objects.order_by("id").values_list("kind", "key", "value")),
        list(ConsentEvent.objects.order_by("id").values_list("topic", "granted", "at", "source")),
    ]
    return [members, purchases, items, records]


# --- seed_demo -------------------------------------------------------------------------------


def test_seed_demo_creates_the_shop_members_and_their_records():
    seed()
    assert Member.objects.count() == 50
    assert Member.history.count() == 50
    assert Store.objects.count() == len(demo.STORES)
    assert {s.city for s in Store.objects.all()} >= {"上海", "北京", "杭州", "成都", "广州", "深圳"}
    assert Product.objects.count() == len(demo.PRODUCTS)
    assert Category.objects.filter(name__in=["鲜花花束", "玫瑰", "绿植", "永生花", "礼盒", "花瓶", "贺卡"]).count() == 7
    assert Purchase.objects.count() >= 50
    assert PurchaseItem.objects.count() >= Purchase.objects.count()
    assert ServiceRecord.objects.exists()
    assert Interaction.objects.exists()
    assert Preference.objects.exists()
    assert Consent.objects.count() == 50 * 4
    assert set(ConsentEvent.objects.values_list("source", flat=True)) <= {ConsentSource.IMPORT, ConsentSource.ADMIN}


def test_seed_demo_creates_a_login_per_role_with_its_group_and_prints_it():
    output = seed(members=5)
    expected = {"manager": MANAGER, "staff": STORE_STAFF, "marketing": MARKETING, "support": SUPPORT}
    for username, group in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.is_staff and not user.is_superuser
        assert user.check_password(demo.demo_password(username))
        assert demo.demo_password(username) in output
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(demo.demo_password("admin"))
    assert "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_leaves_an_existing_account_untouched():
    User.objects.create_user("manager", password="my-own-secret")
    output = seed(members=5)
    assert User.objects.get(username="manager").check_password("my-own-secret")
    assert demo.demo_password("manager") not in output


def test_seed_demo_members_have_valid_unique_chinese_mobiles_found_by_lookup():
    seed()
    phones = [m.phone for m in Member.objects.all()]
    assert len(set(phones)) == 50
    assert all(phone.startswith("+861") and len(phone) == 14 for phone in phones)
    member = Member.objects.order_by("id").first()
    assert list(Member.objects.with_phone(member.phone[3:])) == [member]


def test_seed_demo_purchase_totals_add_up():
    seed()
    for purchase in Purchase.objects.prefetch_related("items"):
        lines = list(purchase.items.all())
        assert purchase.subtotal == sum(line.unit_price * line.quantity for line in lines)
        assert purchase.total == purchase.subtotal - purchase.discount_total
        for line in lines:
            assert line.line_total == line.unit_price * line.quantity - line.discount
        assert purchase.total <= sum(line.line_total for line in lines)
        assert len(lines) in range(1, 5)


def test_seed_demo_puts_purchases_before_today_and_after_registration():
    seed()
    purchases = Purchase.objects.select_related("member")
    assert all(p.member.registered_at <= p.ordered_at for p in purchases)
    assert all(timezone.localtime(p.ordered_at).date() < timezone.localdate() for p in purchases)


def test_seed_demo_is_deterministic_for_a_seed():
    first = seed_and_forget(seed=7)
    assert seed_and_forget(seed=7) == first


def test_seed_demo_differs_with_another_seed():
    first = seed_and_forget(seed=7)
    assert seed_and_forget(seed=8)[0] != first[0]


def test_seed_demo_if_empty_creates_nothing_when_members_exist_but_prints_logins():
    seed(members=10)
    counts = (Member.objects.count(), Purchase.objects.count(), ServiceRecord.objects.count())
    output = seed(members=10, if_empty=True)
    assert (Member.objects.count(), Purchase.objects.count(), ServiceRecord.objects.count()) == counts
    assert demo.demo_password("manager") in output
    assert "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_if_empty_says_when_a_demo_password_was_changed():
    seed(members=3)
    manager = User.objects.get(username="manager")
    manager.set_password("changed-by-the-shop")
    manager.save()
    output = seed(members=3, if_empty=True)
    assert demo.demo_password("manager") not in output
    assert demo.demo_password("staff") in output


def test_seed_demo_if_empty_seeds_an_empty_database():
    seed(members=5, if_empty=True)
    assert Member.objects.count() == 5


def test_seed_demo_without_if_empty_adds_new_people():
    seed(members=5)
    seed(members=5)
    assert Member.objects.count() == 10
    assert Member.objects.values("phone_hash").distinct().count() == 10


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed(members=5)
    assert not Member.objects.exists()
    assert not User.objects.filter(username="admin").exists()


def test_seed_demo_runs_with_debug_off_when_explicitly_allowed(settings):
    settings.DEBUG = False
    seed(members=2, allow_production=True)
    assert Member.objects.count() == 2


def test_seasons_use_the_real_dates():
    assert demo.mothers_day(2025) == datetime.date(2025, 5, 11)
    assert demo.mothers_day(2026) == datetime.date(2026, 5, 10)
    found = demo.holidays(datetime.date(2024, 1, 1), datetime.date(2026, 1, 1))
    assert found[demo.QIXI_DAY] == [datetime.date(2024, 8, 10), datetime.date(2025, 8, 29)]
    assert found[demo.SPRING] == [datetime.date(2024, 2, 10), datetime.date(2025, 1, 29)]
    assert found[demo.VALENTINE] == [datetime.date(2024, 2, 14), datetime.date(2025, 2, 14)]


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
