"""Demo data has a member-centre member: the documented phone signs in to a centre where every
page shows something (card, points clearing at year end, coupons valid/used/expired, a redemption,
stored value with a gift received)."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from demo.centre import DEMO_MEMBER_NAME, DEMO_MEMBER_PHONE
from members.models import Member
from rewards.models import PointsAccount, PointsLot, Redemption, StoredValueEntry
from tests.members.centre_pages_helpers import member_client
from tests.rewards.helpers import assert_ledger_invariants
from tests.rewards.stored_value_helpers import assert_stored_value_invariants

pytestmark = pytest.mark.django_db


def test_the_demo_member_finds_every_centre_page_filled(settings):
    settings.DEBUG = True  # seed_demo runs only in development
    out = io.StringIO()
    call_command("seed_demo", members=40, stdout=out, stderr=io.StringIO())
    member = Member.objects.with_phone(DEMO_MEMBER_PHONE).get()
    assert member.name == DEMO_MEMBER_NAME and DEMO_MEMBER_PHONE in out.getvalue()
    assert_ledger_invariants(member)
    assert_stored_value_invariants(member)
    year_end = datetime.date(timezone.localdate().year, 12, 31)
    assert PointsLot.objects.filter(account__member=member, remaining__gt=0, expires_on=year_end).exists()
    assert Redemption.objects.filter(member=member).count() == 2
    kinds = set(StoredValueEntry.objects.filter(member=member).values_list("kind", flat=True))
    assert {"top_up", "bonus", "payment", "gift_claimed"} <= kinds

    client = member_client(member, HTTP_ACCEPT_LANGUAGE="en")
    card = client.get("/m/").content.decode()
    # her spend (demo/centre.py's 820 and the bouquet sold with a care plan) stays under Silver's 1,000
    missing = Decimal("1000.00") - PointsAccount.objects.get(member=member).lifetime_spend
    assert Decimal("0") < missing <= Decimal("180.00")
    assert f"Spend ¥{missing:.2f} more to reach Silver" in card and "<svg" in card
    coupons = client.get("/m/coupons/").content.decode()
    ready, used, expired = (coupons.split('id="used"')[0], *coupons.split('id="used"')[1].split('id="expired"'))
    assert "满100减10元券" in ready and "免配送费券" in used and "生日花束9折券" in expired.split('id="partners"')[0]
    assert "Points used for a reward" in client.get("/m/points/").content.decode()
    assert "Gift received" in client.get("/m/wallet/").content.decode()
    assert "more points needed" in client.get("/m/rewards/").content.decode()


def test_a_second_run_keeps_the_demo_member_as_it_is(settings):
    settings.DEBUG = True
    call_command("seed_demo", members=5, stdout=io.StringIO(), stderr=io.StringIO())
    call_command("seed_demo", members=5, stdout=io.StringIO(), stderr=io.StringIO())
    assert Member.objects.with_phone(DEMO_MEMBER_PHONE).count() == 1
