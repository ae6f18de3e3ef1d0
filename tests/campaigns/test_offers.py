"""Offers: a coupon or bonus points for each member actually sent the message, once."""

import pytest
from django.core import mail

from campaigns import selectors
from campaigns.models import OfferGrant
from campaigns.services import dispatch, offers
from rewards.models import Coupon, LedgerEntry
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories

pytestmark = pytest.mark.django_db


def test_coupon_offer_issues_one_coupon_per_recipient_and_shows_its_code():
    no_quiet_hours()
    template = catalogue_factories.template(name="满100减20")
    yes = member(name="李小花", email_consent=True)
    member(email_consent=False)  # skipped: no consent → nothing
    made = campaign(channel="email", body="您的券码：{{ coupon.code }}", control_group_pct=0)
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    launched(made)
    drain()
    coupon = Coupon.objects.get()
    assert coupon.member_id == yes.pk and coupon.source == Coupon.Source.CAMPAIGN
    assert f"您的券码：{coupon.code}" in mail.outbox[0].body
    assert OfferGrant.objects.get().coupon_id == coupon.pk
    drain()  # nothing left to do: still one coupon
    assert Coupon.objects.count() == 1


def test_control_group_gets_nothing(monkeypatch):
    no_quiet_hours()
    held, sent = member(sms_consent=True), member(sms_consent=True)
    monkeypatch.setattr(dispatch.rules, "in_control_group", lambda *, campaign_id, member_id, pct: member_id == held.pk)
    made = campaign(control_group_pct=50)
    offers.set_offer(campaign=made, kind="points", points=50)
    launched(made)
    drain()
    bonus = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BONUS)
    assert list(bonus.values_list("member_id", "points")) == [(sent.pk, 50)]
    assert selectors.campaign_results(made).skipped["control_group"] == 1


def test_preparing_twice_does_not_issue_a_second_coupon():
    no_quiet_hours()
    template = catalogue_factories.template()
    member(email_consent=True)
    made = campaign(channel="email", body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    launched(made)
    message = made.outbox_messages.get()
    first = offers.coupon_for_message(message)
    again = offers.coupon_for_message(message)
    assert first.pk == again.pk and Coupon.objects.count() == 1


def test_failed_send_voids_the_coupon_and_points_only_when_sent():
    no_quiet_hours()
    template = catalogue_factories.template()
    member(email=None, email_consent=True)  # fails: no address (before any coupon)
    member(email_consent=True)
    made = campaign(channel="email", body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    launched(made)
    mail.outbox.clear()

    def refuse(self, fail_silently=False):
        raise OSError("smtp down")

    from django.core.mail import EmailMultiAlternatives

    original = EmailMultiAlternatives.send
    EmailMultiAlternatives.send = refuse
    try:
        drain()
    finally:
        EmailMultiAlternatives.send = original
    assert selectors.campaign_results(made).failed == 2
    assert list(Coupon.objects.values_list("status", flat=True)) == [Coupon.Status.VOID]


def test_an_inactive_coupon_fails_the_message_with_the_reason_and_offer_rules_are_checked():
    no_quiet_hours()
    template = catalogue_factories.template(name="旧券")
    member(sms_consent=True)
    made = campaign(body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    template.is_active = False
    template.save()
    launched(made)
    drain()
    message = made.outbox_messages.get()
    assert message.status == "failed" and "旧券" in message.error
    assert not Coupon.objects.exists()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        offers.set_offer(campaign=campaign(), kind="points", points=0)
    assert "points" in error.value.message_dict
