"""The store staff's home page questions (members.selectors): today's birthdays and the coming
important dates of a store's members, and its open service requests, against a hand-made shop."""

import datetime

import pytest

from members import services
from members.models import Member, ServiceRecord
from members.selectors import open_service_records, store_member_dates
from tests.members import factories

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 5, 18)


def _date(member, day: datetime.date, *, kind="anniversary", label=""):
    return services.add_important_date(member=member, kind=kind, month=day.month, day=day.day, label=label,
                                       consent=True)  # fmt: skip


@pytest.fixture
def stores():
    return factories.store("sh-001", "上海店"), factories.store("bj-001", "北京店")


def test_birthdays_today_and_dates_of_the_next_seven_days_of_the_stores_active_members(stores):
    sh, bj = stores
    ann = factories.member(name="安", home_store=sh, birthday=datetime.date(1990, 5, 18))
    frozen = factories.member(name="冻", home_store=sh, birthday=datetime.date(1991, 5, 18))
    services.update_member(member=frozen, status=Member.Status.FROZEN)
    factories.member(name="明", home_store=sh, birthday=datetime.date(1992, 5, 19))  # tomorrow: not today's
    factories.member(name="北", home_store=bj, birthday=datetime.date(1993, 5, 18))  # another store
    bo = factories.member(name="博", home_store=sh)
    _date(bo, datetime.date(2000, 5, 24))  # the 7th day (18…24)
    _date(ann, datetime.date(2000, 5, 20), kind="custom", label="开店纪念")
    _date(bo, datetime.date(2000, 5, 25))  # the 8th day: not yet
    cy = factories.member(name="慈", home_store=sh)
    _date(cy, datetime.date(2000, 5, 19))
    services.set_consents(member=cy, consents={"data_processing": False})  # withdrawn: the date is not used

    dates = store_member_dates(today=TODAY, store=sh)
    assert [(d.name, d.kind, d.label, d.on) for d in dates] == [
        ("安", "birthday", "Birthday", TODAY),
        ("安", "custom", "开店纪念", datetime.date(2026, 5, 20)),
        ("博", "anniversary", "Anniversary", datetime.date(2026, 5, 24)),
    ]
    assert dates[0].phone == factories_mask(ann)
    everywhere = store_member_dates(today=TODAY)
    assert sorted(d.name for d in everywhere if d.kind == "birthday") == ["北", "安"]


def factories_mask(member) -> str:
    from members.masking import mask_phone

    return mask_phone(member.phone)


def test_dates_wrap_over_the_new_year_and_29_february_falls_on_the_28th(stores):
    sh, _bj = stores
    eve = factories.member(name="夕", home_store=sh)
    _date(eve, datetime.date(2000, 1, 2))
    leap = factories.member(name="闰", home_store=sh, birthday=datetime.date(1996, 2, 29))
    dates = store_member_dates(today=datetime.date(2026, 12, 30), store=sh)
    assert [(d.name, d.on) for d in dates] == [("夕", datetime.date(2027, 1, 2))]
    dates = store_member_dates(today=datetime.date(2027, 2, 28), store=sh)
    assert [(d.name, d.kind) for d in dates] == [(leap.name, "birthday")]


def test_the_lists_are_capped_and_read_in_two_queries(stores, django_assert_num_queries):
    sh, _bj = stores
    for i in range(12):
        member = factories.member(name=f"会员{i:02d}", home_store=sh, birthday=datetime.date(1990, 5, 18))
        _date(member, datetime.date(2000, 5, 19))
    with django_assert_num_queries(2):
        dates = store_member_dates(today=TODAY, store=sh, limit=5)
    assert [d.kind for d in dates] == ["birthday"] * 5 + ["anniversary"] * 5


def test_open_service_requests_of_the_store_oldest_first(stores, django_assert_num_queries):
    sh, bj = stores
    member = factories.member(home_store=sh)
    first = services.add_service_record(member=member, kind="repair", summary="花瓶", store=sh)
    second = services.add_service_record(member=member, kind="delivery", summary="送花", store=sh, status="in_progress")
    services.add_service_record(
        member=member, kind="repair", summary="好了", store=sh, status=ServiceRecord.Status.DONE
    )
    services.add_service_record(member=member, kind="repair", summary="北京", store=bj)
    ServiceRecord.objects.filter(pk=second.pk).update(opened_at=first.opened_at - datetime.timedelta(hours=1))
    with django_assert_num_queries(2):
        count, records = open_service_records(store=sh)
    assert count == 2 and [r.pk for r in records] == [second.pk, first.pk]
    assert open_service_records()[0] == 3
