"""`members.services`: the rules every caller (admin, API, commands, rewards) relies on."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from members import services, signals
from members.models import (
    Category,
    Consent,
    ConsentEvent,
    ConsentSource,
    Member,
    Preference,
    Purchase,
    PurchaseItem,
)
from members.services import DuplicatePurchase, MemberErased, PurchaseLine
from members.services import profiles as profile_services
from members.services import purchases as purchase_services
from tests.conftest import make_user
from tests.members import factories

D = Decimal


@pytest.fixture
def member(db):
    return factories.member(name="王芳", phone="13912345678")


def line(sku: str = "ROSE-11", quantity: int = 1, unit_price: str = "199.00", **kwargs) -> PurchaseLine:
    return PurchaseLine(sku=sku, quantity=quantity, unit_price=D(unit_price), **kwargs)


def buy(member, items=None, ref: str = "ORD-1", **kwargs) -> Purchase:
    kwargs.setdefault("ordered_at", timezone.now() - datetime.timedelta(hours=1))
    return services.record_purchase(member=member, external_ref=ref, items=items or [line()], **kwargs)


def raw_member_row(member) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, email, birthday FROM members_member WHERE id = %s", [member.pk])
        return " ".join(str(value) for value in cursor.fetchone())


# --- create_member -------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_member_normalises_phone_and_email_and_sets_birth_month_and_day():
    member = services.create_member(
        name="  李华 ", phone="139 1234-5678", email="Li.Hua@Example.COM", birthday=datetime.date(1990, 5, 17)
    )

    member.refresh_from_db()
    assert (member.name, member.phone, member.email) == ("李华", "+8613912345678", "Li.Hua@example.com")
    assert (member.birthday, member.birth_month, member.birth_day) == (datetime.date(1990, 5, 17), 5, 17)
    assert member.member_no.startswith("M") and len(member.referral_code) == 8


@pytest.mark.django_db
def test_create_member_stores_phone_email_and_birthday_encrypted():
    member = services.create_member(
        name="李华", phone="13912345678", email="li.hua@example.com", birthday=datetime.date(1990, 5, 17)
    )

    raw = raw_member_row(member)
    for plaintext in ("13912345678", "li.hua", "example.com", "1990", "05-17"):
        assert plaintext not in raw
    assert raw.startswith("v1$")


@pytest.mark.django_db
def test_no_plaintext_in_any_member_row():
    services.create_member(name="李华", phone="13912345678", email="li.hua@example.com")
    services.create_member(name="王芳", phone="13812345678", birthday=datetime.date(1985, 2, 14))

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, email, birthday FROM members_member")
        dump = repr(cursor.fetchall())
    for plaintext in ("13912345678", "13812345678", "li.hua", "1985-02-14", "1985"):
        assert plaintext not in dump


@pytest.mark.django_db
def test_create_member_records_a_history_row_with_the_actor():
    actor = make_user("clerk")

    member = services.create_member(name="李华", phone="13912345678", actor=actor)

    assert member.history.count() == 1
    assert member.history.first().history_user == actor


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "  "}, "name"),
        ({"phone": None}, "phone"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"birthday": datetime.date(2999, 1, 1)}, "birthday"),
        ({"consents": {"marketing_fax": True}}, "consents"),
        ({"referral_code": "NOPE0000"}, "referral_code"),
        ({"gender": "dragon"}, "gender"),
    ],
    ids=lambda value: str(value),
)
def test_create_member_refuses_invalid_input_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as error:
        services.create_member(**({"name": "李华", "phone": "13912345678"} | kwargs))

    assert field in error.value.message_dict
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_create_member_accepts_an_email_without_a_phone():
    member = services.create_member(name="李华", email="li@example.com")

    assert (member.phone, member.phone_hash) == (None, "")


@pytest.mark.django_db
def test_create_member_refuses_a_taken_phone_naming_the_member(member):
    with pytest.raises(ValidationError) as error:
        services.create_member(name="冒名者", phone="+86 139 1234 5678")

    assert member.member_no in error.value.message_dict["phone"][0]


@pytest.mark.django_db
def test_create_member_refuses_a_taken_external_id_naming_the_member():
    first = factories.member(external_id="POS-1")

    with pytest.raises(ValidationError) as error:
        factories.member(external_id=" POS-1 ")

    assert first.member_no in error.value.message_dict["external_id"][0]


@pytest.mark.django_db
def test_create_member_links_the_referrer_by_code_in_any_case(member):
    referred = factories.member(referral_code=f" {member.referral_code.lower()} ")

    assert referred.referred_by == member


@pytest.mark.django_db
def test_create_member_sets_tags_and_consents(member):
    actor = make_user("clerk")

    new = factories.member(tags=["VIP", " 婚礼 ", ""], consents={"marketing_sms": True}, actor=actor)

    assert sorted(new.tags.values_list("name", flat=True)) == ["VIP", "婚礼"]
    event = new.consent_events.get()
    assert (event.topic, event.granted, event.actor, event.source) == ("marketing_sms", True, actor, "admin")


# --- lookups -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["13912345678", "+8613912345678", "+86 139-1234-5678", "0086 139 1234 5678"])
def test_with_phone_finds_the_member_in_any_format(member, query):
    factories.member(phone="13912345679")

    assert list(Member.objects.with_phone(query)) == [member]


@pytest.mark.django_db
def test_with_phone_of_something_that_is_not_a_phone_finds_nothing(member):
    assert not Member.objects.with_phone("hello").exists()
    assert not Member.objects.with_phone("").exists()


@pytest.mark.django_db
def test_with_email_is_case_insensitive_and_exact():
    member = factories.member(email="Li.Hua@Example.com")
    factories.member(email="li.hua2@example.com")

    assert list(Member.objects.with_email("  LI.HUA@EXAMPLE.COM ")) == [member]
    assert not Member.objects.with_email("li.hua@example").exists()


# --- update_member -------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_member_changes_only_the_given_fields(member):
    services.set_tags(member=member, names=["VIP"])
    before = Member.objects.get(pk=member.pk)

    services.update_member(member=member, name="王芳芳", email="wf@example.com")

    after = Member.objects.get(pk=member.pk)
    assert (after.name, after.email) == ("王芳芳", "wf@example.com")
    for field in ("phone", "phone_hash", "birthday", "gender", "home_store_id", "status", "external_id", "notes"):
        assert getattr(after, field) == getattr(before, field), field
    assert list(after.tags.values_list("name", flat=True)) == ["VIP"]


@pytest.mark.django_db
def test_update_member_records_who_changed_what(member):
    actor = make_user("clerk")

    services.update_member(member=member, actor=actor, name="王芳芳")

    latest, first = member.history.all()[:2]
    assert latest.history_user == actor
    assert [change.field for change in latest.diff_against(first).changes] == ["name"]


@pytest.mark.django_db
def test_update_member_changes_phone_and_its_hash(member):
    services.update_member(member=member, phone="13700000000")

    assert list(Member.objects.with_phone("137 0000 0000")) == [member]
    assert not Member.objects.with_phone("13912345678").exists()


@pytest.mark.django_db
def test_update_member_refuses_a_phone_of_another_member(member):
    other = factories.member()

    with pytest.raises(ValidationError) as error:
        services.update_member(member=other, phone="139 1234 5678")

    assert member.member_no in error.value.message_dict["phone"][0]


@pytest.mark.django_db
def test_update_member_refuses_removing_the_last_contact(member):
    with pytest.raises(ValidationError) as error:
        services.update_member(member=member, phone="")

    assert "phone" in error.value.message_dict


@pytest.mark.django_db
def test_update_member_refuses_setting_status_erased(member):
    with pytest.raises(ValidationError) as error:
        services.update_member(member=member, status=Member.Status.ERASED)

    assert "status" in error.value.message_dict
    assert Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE


@pytest.mark.django_db
def test_update_member_refuses_unknown_fields(member):
    with pytest.raises(ValidationError) as error:
        services.update_member(member=member, member_no="M1")

    assert "member_no" in error.value.message_dict


@pytest.mark.django_db
def test_update_member_refuses_an_erased_member(member):
    services.erase_member(member=member)

    with pytest.raises(MemberErased) as error:
        services.update_member(member=member, name="复活")

    assert error.value.code == "member_erased"


# --- set_consents --------------------------------------------------------------------------


@pytest.mark.django_db
def test_set_consents_records_an_event_per_topic_that_changes(member):
    actor = make_user("clerk")

    events = services.set_consents(
        member=member, consents={"marketing_email": True, "marketing_sms": True}, actor=actor, source="api"
    )

    assert sorted((e.topic, e.granted, e.actor, e.source) for e in events) == [
        ("marketing_email", True, actor, "api"),
        ("marketing_sms", True, actor, "api"),
    ]
    assert ConsentEvent.objects.filter(member=member).count() == 2


@pytest.mark.django_db
def test_set_consents_records_nothing_when_nothing_changes(member):
    services.set_consents(member=member, consents={"marketing_email": True})

    again = services.set_consents(member=member, consents={"marketing_email": True})

    assert again == []
    assert ConsentEvent.objects.filter(member=member).count() == 1


@pytest.mark.django_db
def test_set_consents_withdrawal_records_only_the_changed_topic(member):
    services.set_consents(member=member, consents={"marketing_email": True, "marketing_sms": True})

    events = services.set_consents(member=member, consents={"marketing_email": False, "marketing_sms": True})

    assert [(e.topic, e.granted) for e in events] == [("marketing_email", False)]
    assert services.consent_state(member) | {} == {
        "marketing_email": False,
        "marketing_sms": True,
        "marketing_wechat": False,
        "data_processing": False,
    }
    assert Consent.objects.filter(member=member).count() == 2


@pytest.mark.django_db
def test_set_consents_refuses_unknown_topics_and_changes_nothing(member):
    with pytest.raises(ValidationError):
        services.set_consents(member=member, consents={"marketing_email": True, "marketing_fax": True})

    assert not Consent.objects.filter(member=member).exists()


# --- record_purchase -----------------------------------------------------------------------


@pytest.mark.django_db
def test_record_purchase_computes_subtotal_discounts_and_total(member):
    purchase = buy(
        member,
        [
            line(quantity=2, unit_price="199.00", discount=D("20.00")),
            line(sku="CARD-1", quantity=3, unit_price="5.50"),
        ],
    )

    assert (purchase.subtotal, purchase.discount_total, purchase.total) == (D("414.50"), D("20.00"), D("394.50"))
    assert [(i.sku, i.line_total) for i in purchase.items.all()] == [("ROSE-11", D("378.00")), ("CARD-1", D("16.50"))]


@pytest.mark.django_db
def test_record_purchase_with_a_total_below_the_subtotal_is_an_order_discount(member):
    purchase = buy(member, [line(quantity=2, unit_price="100.00", discount=D("10.00"))], total=D("150"))

    assert (purchase.subtotal, purchase.total, purchase.discount_total) == (D("200.00"), D("150.00"), D("50.00"))


@pytest.mark.django_db
def test_record_purchase_resolves_product_and_category_by_sku_and_code(member):
    rose = factories.product()
    lilies = factories.category(code="lilies", name="百合")

    purchase = buy(member, [line(sku="ROSE-11"), line(sku="LILY-1", category="lilies")])

    first, second = purchase.items.all()
    assert (first.product, first.category, first.name) == (rose, rose.category, rose.name)
    assert (second.product, second.category) == (None, lilies)


@pytest.mark.django_db
def test_record_purchase_creates_a_category_for_a_new_label(member):
    purchase = buy(member, [line(sku="X-1", category="Gift Boxes"), line(sku="X-2", category="Gift Boxes")])

    category = Category.objects.get(name="Gift Boxes")
    assert {item.category for item in purchase.items.all()} == {category}


@pytest.mark.django_db
def test_record_purchase_accepts_an_order_years_in_the_past(member):
    long_ago = timezone.now() - datetime.timedelta(days=365 * 6)

    purchase = buy(member, ordered_at=long_ago)

    assert Purchase.objects.get(pk=purchase.pk).ordered_at == long_ago


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("items", "kwargs", "field"),
    [
        ([line(quantity=0)], {}, "items"),
        ([line(quantity=-1)], {}, "items"),
        ([line(unit_price="-1.00")], {}, "items"),
        ([line(discount=D("-1.00"))], {}, "items"),
        ([line(quantity=2, unit_price="10.00", discount=D("20.01"))], {}, "items"),
        ([line(sku="")], {}, "items"),
        ([line(unit_price="199.00")], {"total": D("199.01")}, "total"),
        ([line()], {"total": D("-1")}, "total"),
        ([line()], {"external_ref": "  "}, "external_ref"),
        ([line()], {"ordered_at": timezone.now() + datetime.timedelta(days=1)}, "ordered_at"),
    ],
    ids=[
        "zero-quantity",
        "negative-quantity",
        "negative-price",
        "negative-discount",
        "discount-above-line",
        "no-sku",
        "total-above-subtotal",
        "negative-total",
        "blank-ref",
        "future-ordered-at",
    ],
)
def test_record_purchase_refuses_bad_input_naming_the_field(member, items, kwargs, field):
    kwargs = {"ref": kwargs.pop("external_ref", "ORD-1"), **kwargs}

    with pytest.raises(ValidationError) as error:
        buy(member, items, **kwargs)

    assert field in error.value.message_dict
    assert not Purchase.objects.exists() and not PurchaseItem.objects.exists()


@pytest.mark.django_db
def test_record_purchase_refuses_a_purchase_without_lines(member):
    with pytest.raises(ValidationError) as error:
        services.record_purchase(member=member, external_ref="ORD-1", ordered_at=timezone.now(), items=[])

    assert "items" in error.value.message_dict
    assert not Purchase.objects.exists()


@pytest.mark.django_db
def test_record_purchase_refuses_an_erased_member(member):
    services.erase_member(member=member)

    with pytest.raises(MemberErased):
        buy(member)

    assert not Purchase.objects.exists()


@pytest.mark.django_db
def test_record_purchase_refuses_a_reused_external_ref_and_writes_nothing(member):
    first = buy(member, ref="ORD-1")
    categories = Category.objects.count()

    with pytest.raises(DuplicatePurchase) as error:
        buy(member, [line(sku="NEW-1", category="Brand new label"), line(sku="NEW-2")], ref="ORD-1")

    assert error.value.code == "duplicate_purchase"
    assert "ORD-1" in str(error.value)
    assert list(Purchase.objects.all()) == [first]
    assert list(PurchaseItem.objects.values_list("purchase_id", flat=True)) == [first.pk]
    assert Category.objects.count() == categories


@pytest.mark.django_db
def test_purchase_recorded_signal_fires_inside_the_transaction_with_the_lines_written(member):
    seen = []

    def listener(sender, purchase, actor, **kwargs):
        seen.append((purchase.external_ref, purchase.items.count(), actor, connection.in_atomic_block))
        raise RuntimeError("listener failed")

    signals.purchase_recorded.connect(listener)
    try:
        # record_purchase has no savepoint of its own: an error inside it rolls back with the
        # caller's transaction (here this block; outside any transaction, its own).
        with pytest.raises(RuntimeError), transaction.atomic():
            buy(member, [line(), line(sku="CARD-1")], ref="ORD-9", actor="clerk")
    finally:
        signals.purchase_recorded.disconnect(listener)

    assert seen == [("ORD-9", 2, "clerk", True)]
    # The listener's failure rolled the purchase back: it ran inside the purchase's transaction.
    assert not Purchase.objects.exists()


@pytest.mark.django_db
def test_record_purchases_sends_one_purchases_recorded_signal_for_them_all(member):
    seen, single = [], []

    def listener(sender, purchases, actor, **kwargs):
        seen.append(([(p.external_ref, p.items.count()) for p in purchases], actor, connection.in_atomic_block))

    def single_listener(sender, purchase, **kwargs):
        single.append(purchase.external_ref)

    signals.purchases_recorded.connect(listener)
    signals.purchase_recorded.connect(single_listener)
    try:
        at = timezone.now() - datetime.timedelta(hours=1)
        services.record_purchases(
            drafts=[
                services.PurchaseDraft(member=member, external_ref="B-1", ordered_at=at, items=[line(), line()]),
                services.PurchaseDraft(member=member, external_ref="B-2", ordered_at=at, items=[line()]),
            ],
            actor="clerk",
        )
    finally:
        signals.purchases_recorded.disconnect(listener)
        signals.purchase_recorded.disconnect(single_listener)

    assert seen == [([("B-1", 2), ("B-2", 1)], "clerk", True)]
    assert single == []


# --- erase_member --------------------------------------------------------------------------


@pytest.fixture
def full_member(db, member):
    actor = make_user("clerk")
    services.update_member(
        member=member,
        actor=actor,
        email="wf@example.com",
        birthday=datetime.date(1990, 5, 17),
        external_id="POS-7",
        notes="喜欢白色百合",
        gender="female",
    )
    services.set_tags(member=member, names=["VIP"])
    services.set_consents(member=member, consents={"marketing_email": True, "marketing_sms": True})
    services.add_preference(member=member, kind="colour", value="白色")
    services.add_service_record(member=member, kind="complaint", summary="花材不新鲜", details="王芳 13912345678")
    services.add_interaction(member=member, kind="call", channel="phone", summary="王芳来电")
    buy(member, [line(quantity=2)], ref="ORD-1")
    return Member.objects.get(pk=member.pk)


@pytest.mark.django_db
def test_erase_member_anonymises_the_profile(full_member):
    services.erase_member(member=full_member)

    erased = Member.objects.get(pk=full_member.pk)
    assert erased.status == Member.Status.ERASED
    assert erased.name == services.ERASED_NAME
    assert (erased.phone, erased.phone_hash, erased.email, erased.email_hash) == (None, "", None, "")
    assert (erased.birthday, erased.birth_month, erased.birth_day) == (None, None, None)
    assert (erased.external_id, erased.notes, erased.gender) == (None, "", Member.Gender.UNKNOWN)
    assert not erased.tags.exists()
    assert not Preference.objects.filter(member=erased).exists()
    assert "王芳" not in erased.service_records.get().summary + erased.service_records.get().details
    assert erased.interactions.get().summary == ""
    assert "+8613912345678" not in raw_member_row(erased)
    assert not Member.objects.with_phone("13912345678").exists()


@pytest.mark.django_db
def test_erase_member_withdraws_consents_with_source_erasure(full_member):
    actor = make_user("dpo")

    services.erase_member(member=full_member, actor=actor)

    assert not any(services.consent_state(full_member).values())
    withdrawals = ConsentEvent.objects.filter(member=full_member, granted=False)
    assert {(e.topic, e.source, e.actor) for e in withdrawals} >= {
        ("marketing_email", ConsentSource.ERASURE, actor),
        ("marketing_sms", ConsentSource.ERASURE, actor),
    }


@pytest.mark.django_db
def test_erase_member_keeps_one_erased_history_row_and_drops_the_earlier_ones(full_member):
    actor = make_user("dpo")
    assert full_member.history.count() >= 2

    services.erase_member(member=full_member, actor=actor)

    (row,) = full_member.history.all()
    assert (row.history_change_reason, row.history_user, row.name, row.status) == (
        "erased",
        actor,
        services.ERASED_NAME,
        "erased",
    )
    assert not Member.history.filter(name="王芳").exists()


@pytest.mark.django_db
def test_erase_member_keeps_purchases_and_their_totals(full_member):
    services.erase_member(member=full_member)

    purchase = Purchase.objects.get(member=full_member)
    assert (purchase.external_ref, purchase.total, purchase.items.get().quantity) == ("ORD-1", D("398.00"), 2)


@pytest.mark.django_db
def test_erase_member_twice_changes_nothing_more(full_member):
    received = []
    signals.member_erased.connect(receiver := lambda sender, member, **kw: received.append(member.pk))
    try:
        services.erase_member(member=full_member)
        events = ConsentEvent.objects.count()
        history = list(full_member.history.values_list("history_id", flat=True))

        again = services.erase_member(member=full_member)
    finally:
        signals.member_erased.disconnect(receiver)

    assert again.status == Member.Status.ERASED
    assert ConsentEvent.objects.count() == events
    assert list(full_member.history.values_list("history_id", flat=True)) == history
    assert received == [full_member.pk]


@pytest.mark.django_db
def test_erase_member_sends_member_erased_with_the_erased_profile(full_member):
    received = []

    def listener(sender, member, **kwargs):
        received.append((sender, member.pk, member.status, connection.in_atomic_block))

    signals.member_erased.connect(listener)
    try:
        services.erase_member(member=full_member)
    finally:
        signals.member_erased.disconnect(listener)

    assert received == [(Member, full_member.pk, Member.Status.ERASED, True)]


@pytest.mark.django_db
def test_an_erased_member_frees_the_phone_for_a_new_registration(full_member):
    services.erase_member(member=full_member)

    newcomer = services.create_member(name="新客户", phone="13912345678")

    assert list(Member.objects.with_phone("13912345678")) == [newcomer]


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_member_numbers_are_unique_pairs():
    pairs = services.new_member_numbers(500)

    assert len(pairs) == 500
    assert len({no for no, _code in pairs}) == 500
    assert len({code for _no, code in pairs}) == 500
    assert all(no.startswith("M") and len(no) == 11 for no, _code in pairs)


@pytest.mark.django_db
def test_new_member_numbers_skip_numbers_and_codes_already_taken(monkeypatch, member):
    taken_no, taken_code = member.member_no, member.referral_code
    numbers = iter([taken_no, taken_no, *(f"M{1000000000 + i}" for i in range(600))])
    codes = iter([taken_code, *(f"C{i:07d}" for i in range(600))])
    monkeypatch.setattr(profile_services, "_random_member_no", lambda: next(numbers))
    monkeypatch.setattr(profile_services, "_random_referral_code", lambda: next(codes))

    pairs = services.new_member_numbers(500)

    assert len(set(pairs)) == 500
    assert taken_no not in {no for no, _code in pairs}
    assert taken_code not in {code for _no, code in pairs}


# --- concurrency (real threads, PostgreSQL) ------------------------------------------------


def race(create_one) -> list[object]:
    """Run `create_one(index)` in two threads, each on its own connection; return what each got."""
    results: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            results[index] = create_one(index)
        except Exception as exc:  # the test inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def both_pass_the_check(monkeypatch, check_name: str) -> threading.Barrier:
    barrier = threading.Barrier(2, timeout=10)
    original = getattr(profile_services, check_name)

    def check_then_wait(member):
        original(member)
        barrier.wait()  # both threads have found the value free; now both insert

    monkeypatch.setattr(profile_services, check_name, check_then_wait)
    return barrier


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_registrations_with_the_same_phone_at_once_one_wins_one_gets_a_validation_error(monkeypatch):
    both_pass_the_check(monkeypatch, "_check_phone_free")

    results = race(lambda i: services.create_member(name=f"客户{i}", phone="13912345678"))

    winners = [r for r in results if isinstance(r, Member)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], ValidationError), repr(losers[0])
    assert winners[0].member_no in losers[0].message_dict["phone"][0]
    assert Member.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_registrations_with_the_same_external_id_at_once_one_wins_one_gets_a_validation_error(monkeypatch):
    both_pass_the_check(monkeypatch, "_check_external_id_free")

    results = race(lambda i: services.create_member(name=f"客户{i}", phone=f"1391234567{i}", external_id="POS-1"))

    winners = [r for r in results if isinstance(r, Member)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], ValidationError), repr(losers[0])
    assert winners[0].member_no in losers[0].message_dict["external_id"][0]
    assert Member.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_purchases_with_the_same_external_ref_at_once_one_wins_one_is_a_duplicate():
    member = factories.member()
    factories.product()
    barrier = threading.Barrier(2, timeout=10)

    def record(index):
        barrier.wait()
        return buy(member, [line(quantity=index + 1)], ref="ORD-RACE")

    results = race(record)

    assert sorted(type(r).__name__ for r in results) == ["DuplicatePurchase", "Purchase"], results
    assert Purchase.objects.count() == 1
    assert PurchaseItem.objects.count() == 1


# --- service records, preferences, interactions --------------------------------------------


@pytest.mark.django_db
def test_add_service_record_sets_the_staff_to_the_actor(member):
    actor = make_user("clerk")

    record = services.add_service_record(member=member, kind="repair", summary="花瓶修补", actor=actor)

    assert (record.staff, record.status, record.member) == (actor, "open", member)


@pytest.mark.django_db
def test_add_service_record_refuses_an_unknown_kind(member):
    with pytest.raises(ValidationError) as error:
        services.add_service_record(member=member, kind="haircut", summary="x")

    assert "kind" in error.value.message_dict


@pytest.mark.django_db
def test_add_preference_custom_needs_a_key(member):
    with pytest.raises(ValidationError) as error:
        services.add_preference(member=member, kind="custom", value="淡香")

    assert "key" in error.value.message_dict


@pytest.mark.django_db
def test_add_preference_needs_a_value_a_category_or_a_product(member):
    with pytest.raises(ValidationError):
        services.add_preference(member=member, kind="favourite_category")

    assert services.add_preference(member=member, kind="favourite_category", category=factories.category()).pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "add",
    [
        lambda m: services.add_service_record(member=m, kind="repair", summary="x"),
        lambda m: services.add_preference(member=m, kind="colour", value="红"),
        lambda m: services.add_interaction(member=m, kind="call", channel="phone", summary="x"),
        lambda m: buy(m),
    ],
    ids=["service-record", "preference", "interaction", "purchase"],
)
def test_records_are_refused_for_a_member_erased_behind_a_stale_instance(member, add):
    stale = Member.objects.get(pk=member.pk)
    services.erase_member(member=member)

    with pytest.raises(MemberErased):
        add(stale)


def test_update_service_record_stamps_closed_at_when_done_and_clears_it_on_reopen(db):
    from members.models import ServiceRecord

    member = factories.member()
    record = services.add_service_record(member=member, kind="delivery", summary="送花到公司")
    record = services.update_service_record(record=record, status=ServiceRecord.Status.DONE)
    assert record.closed_at is not None
    record = services.update_service_record(record=record, status=ServiceRecord.Status.IN_PROGRESS)
    assert record.closed_at is None


def test_update_service_record_refuses_unknown_fields(db):
    member = factories.member()
    record = services.add_service_record(member=member, kind="delivery", summary="送花")
    with pytest.raises(ValidationError):
        services.update_service_record(record=record, member=factories.member())


def test_record_purchase_names_the_line_with_a_negative_price(db):
    member = factories.member()
    lines = [
        services.PurchaseLine(sku="A", quantity=1, unit_price=Decimal("10")),
        services.PurchaseLine(sku="B", quantity=1, unit_price=Decimal("-5")),
    ]
    with pytest.raises(ValidationError) as excinfo:
        services.record_purchase(member=member, external_ref="NEG-1", ordered_at=timezone.now(), items=lines)
    assert "Line 2" in str(excinfo.value)


def test_erasure_removes_the_name_from_the_admin_log(db, manager):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    member = factories.member(name="欧阳娜娜")
    LogEntry.objects.log_actions(user_id=manager.pk, queryset=[member], action_flag=CHANGE, single_object=True)
    services.erase_member(member=member, actor=manager)
    reprs = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(member)).values_list(
        "object_repr", flat=True
    )
    assert list(reprs) == [member.member_no]


def test_bulk_recording_writes_every_column_of_purchases_and_lines():
    """record_purchases writes rows as tuples of these fields: a new field must be added there."""
    for model, fields in (
        (Purchase, purchase_services._PURCHASE_FIELDS),
        (PurchaseItem, purchase_services._LINE_FIELDS),
    ):
        assert set(fields) == {f.attname for f in model._meta.concrete_fields if not f.primary_key}
