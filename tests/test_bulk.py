"""loyalty_crm.bulk: AnyOf lookups and the paused garbage collector."""

import gc

import pytest
from django.db.models import F

from loyalty_crm.bulk import AnyOf, gc_paused
from members.models import Member, Purchase
from tests.members import factories


@pytest.mark.django_db
def test_any_of_finds_what_in_finds_by_strings_and_ids_and_nothing_for_an_empty_list():
    member = factories.member()
    first = factories.purchase(member, ref="A-1")
    factories.purchase(member, ref="A-2")
    third = factories.purchase(member, ref="A-3")

    by_ref = Purchase.objects.filter(AnyOf(F("external_ref"), ["A-1", "A-3", "NOPE"])).order_by("pk")
    assert list(by_ref) == [first, third]
    by_id = Purchase.objects.filter(AnyOf(F("pk"), [third.pk, first.pk])).order_by("pk")
    assert list(by_id) == [first, third]
    assert list(Purchase.objects.filter(AnyOf(F("external_ref"), []))) == []
    assert Member.objects.filter(AnyOf(F("pk"), [member.pk])).get() == member


def test_gc_paused_restores_the_collector_as_it_was():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
