"""Helpers for the referral and partner tests: referred members and postings whose after-commit
work (referral rewards, partner offers) runs, as it does in production."""

from __future__ import annotations

from decimal import Decimal

from campaigns.models import Partner, PartnerCodePool, PartnerOffer, ReferralProgramme
from members.models import Member
from rewards.models import LedgerEntry
from tests.members import factories
from tests.rewards.catalogue_factories import template
from tests.rewards.helpers import post


def referred_pair(**kwargs) -> tuple[Member, Member]:
    referrer = factories.member(name="李推荐")
    referred = factories.member(name="张新客", referral_code=referrer.referral_code, **kwargs)
    return referrer, referred


def post_committed(capture, member, amount: str = "100.00", **kwargs):
    """Post a purchase and run what waits for its commit (the referral reward, partner offers)."""
    with capture(execute=True):
        return post(member, amount, **kwargs)


def programme(**fields) -> ReferralProgramme:
    programme = ReferralProgramme.load()
    for name, value in fields.items():
        setattr(programme, name, value)
    programme.save()
    return programme


def bonus_points(member) -> list[int]:
    return sorted(
        LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.BONUS).values_list("points", flat=True)
    )


def partner(code: str = "cafe", name: str = "街角咖啡") -> Partner:
    return Partner.objects.get_or_create(code=code, defaults={"name": name, "contact": "王经理 021-5555"})[0]


def coupon_offer(threshold: str = "200.00", **kwargs) -> PartnerOffer:
    return PartnerOffer.objects.create(
        partner=kwargs.pop("partner", None) or partner(),
        name="咖啡券",
        coupon_template=kwargs.pop("coupon_template", None) or template(name="咖啡 ¥10", value="10.00"),
        threshold=Decimal(threshold),
        **kwargs,
    )


def accept_pool(purpose: str = PartnerCodePool.Purpose.ACCEPT, **kwargs) -> PartnerCodePool:
    if purpose == PartnerCodePool.Purpose.ACCEPT:
        kwargs.setdefault("coupon_template", template(name="合作伙伴 ¥30", value="30.00"))
    kwargs.setdefault("name", "2026 春")
    return PartnerCodePool.objects.create(partner=kwargs.pop("partner", None) or partner(), purpose=purpose, **kwargs)


def hand_out_pool(**kwargs) -> PartnerCodePool:
    return accept_pool(PartnerCodePool.Purpose.HAND_OUT, **kwargs)
