"""`manage.py seed_demo` (moved from members with `members/demo.py`): the shop, the members and
their records, the logins, --if-empty, determinism, and the printed address."""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from demo import members as demo_members
from demo.data import document, table
from demo.logins import demo_password
from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT
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
from rewards.models import Coupon, MembershipSubscription, Redemption

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
        (
            p.member.name if p.member else None,  # None: a walk-in at the till
            p.ordered_at,
            p.store.code,
            p.channel,
            p.payment_method,
            p.subtotal,
            p.discount_total,
            p.total,
        )
        for p in Purchase.objects.select_related("member", "store").order_by("id")
    ]
    items = list(PurchaseItem.objects.order_by("id").values_list("sku", "quantity", "unit_price", "discount"))
    # The profile records the generator writes; a ticket's complaint adds one with its message.
    generated_records = ServiceRecord.objects.exclude(details__in=document("feedback")["messages"]["complaint"])
    records = [
        list(generated_records.order_by("id").values_list("kind", "status", "summary", "opened_at")),
        list(
            Interaction.objects.exclude(channel=Interaction.Channel.WEB)
            .order_by("id")
            .values_list("kind", "channel", "summary", "occurred_at")
        ),
        list(Preference.objects.order_by("id").values_list("kind", "key", "value")),
        list(ConsentEvent.objects.order_by("id").values_list("topic", "granted", "at", "source")),
    ]
    # The year of activity, made by the services at past moments: the same too.
    activity = [
        list(
            Redemption.objects.order_by("id").values_list("member__name", "reward__name", "points_spent", "created_at")
        ),
        list(MembershipSubscription.objects.order_by("id").values_list("member__name", "starts_on", "ends_on")),
        list(Coupon.objects.order_by("id").values_list("member__name", "template__name", "status", "issued_at")),
    ]
    return [members, purchases, items, records, activity]


# --- seed_demo -------------------------------------------------------------------------------


def test_seed_demo_creates_the_shop_members_and_their_records():
    seed()
    assert Member.objects.count() == 50
    assert Member.history.count() == 50
    assert Store.objects.count() == len(table("stores"))
    assert {s.city for s in Store.objects.all()} >= {"上海", "北京", "杭州", "成都", "广州", "深圳"}
    assert Product.objects.count() == len(table("products"))
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
        assert user.check_password(demo_password(username))
        assert demo_password(username) in output
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(demo_password("admin"))
    assert "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_leaves_an_existing_account_untouched():
    User.objects.create_user("manager", password="my-own-secret")
    output = seed(members=5)
    assert User.objects.get(username="manager").check_password("my-own-secret")
    assert demo_password("manager") not in output


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
        # What points paid at the till is neither a discount nor money paid (issue 13).
        assert purchase.total == purchase.subtotal - purchase.discount_total - purchase.points_value
        for line in lines:
            assert line.line_total == line.unit_price * line.quantity - line.discount
        assert purchase.total <= sum(line.line_total for line in lines)
        assert len(lines) in range(1, 5)


def test_seed_demo_puts_purchases_before_today_and_after_registration():
    seed()
    purchases = Purchase.objects.select_related("member")
    assert all(p.member is None or p.member.registered_at <= p.ordered_at for p in purchases)  # None: a walk-in
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
    assert demo_password("manager") in output
    assert "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_if_empty_says_when_a_demo_password_was_changed():
    seed(members=3)
    manager = User.objects.get(username="manager")
    manager.set_password("changed-by-the-shop")
    manager.save()
    output = seed(members=3, if_empty=True)
    assert demo_password("manager") not in output
    assert demo_password("staff") in output


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


def test_seasons_use_the_holiday_dates_of_campaigns_holidays():
    found = demo_members.holidays(datetime.date(2024, 1, 1), datetime.date(2026, 1, 1))
    assert found[demo_members.QIXI_DAY] == [datetime.date(2024, 8, 10), datetime.date(2025, 8, 29)]
    assert found[demo_members.SPRING] == [datetime.date(2024, 2, 10), datetime.date(2025, 1, 29)]
    assert found[demo_members.VALENTINE] == [datetime.date(2024, 2, 14), datetime.date(2025, 2, 14)]
    assert found[demo_members.MOTHERS_DAY] == [datetime.date(2024, 5, 12), datetime.date(2025, 5, 11)]


# --- the printed address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("0.0.0.0:8001", "http://127.0.0.1:8001/admin/"),
        ("192.168.1.20:9000", "http://192.168.1.20:9000/admin/"),
        ("8002", "http://127.0.0.1:8002/admin/"),
    ],
)
def test_seed_demo_prints_the_admin_address_it_is_given(addr, url):
    output = seed(members=2, addr=addr)
    assert url in output
    assert "http://127.0.0.1:8000/admin/" not in output


def test_seed_demo_prints_the_address_of_rundev_addr_from_the_environment(monkeypatch):
    monkeypatch.setenv("RUNDEV_ADDR", "0.0.0.0:8005")
    output = seed(members=2)
    assert "http://127.0.0.1:8005/admin/" in output


def test_seed_demo_if_empty_prints_the_address_it_is_given():
    seed(members=2)
    output = seed(members=2, if_empty=True, addr="127.0.0.1:8123")
    assert "http://127.0.0.1:8123/admin/" in output


def test_seed_demo_prints_a_short_summary_not_a_line_per_row():
    output = seed(members=50)
    # The summary, a blank line, the heading and 6 login rows: never a line per member or referral.
    assert len(output.strip().splitlines()) <= 20
    assert "50" in output.splitlines()[0]
