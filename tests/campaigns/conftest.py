import datetime

import pytest
from django.utils import timezone

from campaigns.services.classification import classify_members
from members import services as member_services
from members.models import Member
from tests.members import factories
from tests.rewards.helpers import post


@pytest.fixture
def people(db):
    """Four members with known attributes, classified as of today.

    alice: Shanghai store, tag VIP, born in February, email consent, Gold (6,000 spent 10 days ago)
    bob:   Beijing store, tags new + VIP, born in July, SMS consent, Silver (1,500 spent 400 days ago)
    carol: no store, no tags, no birthday, no consent, never bought (entry tier, no points account)
    dave:  frozen — never in any segment
    """
    today = timezone.localdate()
    shanghai = factories.store("sh-001", "上海南京西路店", "上海")
    beijing = factories.store("bj-001", "北京三里屯店", "北京")
    alice = factories.member(
        name="Alice", home_store=shanghai, tags=["VIP"], birthday=datetime.date(1990, 2, 14),
        consents={"marketing_email": True},
    )  # fmt: skip
    bob = factories.member(
        name="Bob", home_store=beijing, tags=["new", "VIP"], birthday=datetime.date(1985, 7, 3),
        consents={"marketing_sms": True},
    )  # fmt: skip
    carol = factories.member(name="Carol")
    dave = factories.member(name="Dave", home_store=shanghai, tags=["VIP"])
    post(alice, "6000.00", ordered_at=timezone.now() - datetime.timedelta(days=10))
    post(bob, "1500.00", ordered_at=timezone.now() - datetime.timedelta(days=400))
    post(dave, "100.00", ordered_at=timezone.now() - datetime.timedelta(days=5))
    member_services.update_member(member=dave, status=Member.Status.FROZEN)
    classify_members(as_of=today)
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "today": today}


from tests.campaigns.channel_doubles import sms, wechat  # noqa: E402, F401 (provider test doubles, as fixtures)
