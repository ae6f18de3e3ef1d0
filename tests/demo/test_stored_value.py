"""Demo data has stored value (储值卡): the shop's rules, a year of top-ups, payments, a refund and gifts,
all through the services and balancing to their ledger."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Automation
from members.models import Member
from rewards.models import StoredValueEntry, StoredValueGift, TopUp, TopUpRule
from rewards.selectors_stored_value import liability
from rewards.services.integrity import find_stored_value_mismatches
from tests.rewards.stored_value_helpers import assert_stored_value_invariants

pytestmark = pytest.mark.django_db


def test_demo_members_top_up_pay_refund_and_give_stored_value(settings):
    settings.DEBUG = True  # seed_demo runs only in development
    out = io.StringIO()
    call_command("seed_demo", members=80, stdout=out, stderr=io.StringIO())
    assert {"充500送50", "充1000送150"} <= set(TopUpRule.objects.values_list("name", flat=True))
    assert TopUp.objects.exists() and TopUp.objects.filter(bonus__gt=0).exists()
    kinds = set(StoredValueEntry.objects.values_list("kind", flat=True))
    assert {"top_up", "bonus", "payment", "payment_refund", "gift_sent"} <= kinds
    assert StoredValueGift.objects.filter(claimed_by__isnull=True).count() == 1
    assert StoredValueEntry.objects.filter(created_at__gte=timezone.now()).count() == 0  # all in the past
    assert find_stored_value_mismatches() == []
    for member in Member.objects.filter(stored_value_entries__isnull=False).distinct():
        assert_stored_value_invariants(member)
    assert liability().unclaimed_gifts > 0
    assert "top-ups" in out.getvalue()
    reminder = Automation.objects.select_related("campaign").get(kind="bonus_lapse")
    assert reminder.enabled and reminder.days_before == 7 and "{{ lapsing_bonus }}" in reminder.campaign.body
