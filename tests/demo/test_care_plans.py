"""Demo data has care plans: the two plans, sales with claims settled, rejected and open, plans
running and ended, the member-centre member's plans and the expiry reminder on."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Automation
from demo.centre import DEMO_MEMBER_PHONE
from members.models import Member, ServiceRecord
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale

pytestmark = pytest.mark.django_db


def test_demo_sells_care_plans_with_claims_of_every_outcome(settings):
    settings.DEBUG = True  # seed_demo runs only in development
    call_command("seed_demo", members=40, stdout=io.StringIO(), stderr=io.StringIO())
    assert set(CarePlan.objects.values_list("name", flat=True)) == {"鲜花养护计划", "水晶花瓶延长保障"}
    today = timezone.localdate()
    sales = CarePlanSale.objects.all()
    assert sales.filter(ends_on__lt=today).exists() and sales.filter(ends_on__gte=today).exists()
    statuses = set(CarePlanClaim.objects.values_list("status", flat=True))
    assert statuses == {"open", "settled", "rejected"}
    assert ServiceRecord.objects.filter(kind=ServiceRecord.Kind.CARE_CLAIM).count() == CarePlanClaim.objects.count()
    centre_member = Member.objects.with_phone(DEMO_MEMBER_PHONE).get()
    assert CarePlanSale.objects.filter(member=centre_member, ends_on__gte=today).count() == 1
    assert Automation.objects.get(kind="care_plan_expiry").enabled
