"""The member centre's demo: the current terms of membership and privacy notice (in Chinese and
English), published by the demo manager and accepted by the seeded members, so signing in to `/m/`
goes straight to the member's pages; `/m/join/` shows them to a new customer.

And the demo's member-centre member: one documented phone a newcomer signs in with at /m/ and finds
every screen filled — a card with a tier and the next one in reach, points that clear at the end of
this year, coupons valid, used and expired, a redemption, stored value with a bonus that lapses, a
payment and a gift received.

Everything goes through the owning apps' services at past moments (`demo.clock`), like the rest of
the demo. Kept as it is when the phone already belongs to a member (a second run adds nothing).
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass
from decimal import Decimal

from demo.clock import at, day_at
from demo.configured import configured
from members import loyalty, services
from members.models import ConsentTopic, Member, TermsVersion
from members.services import PurchaseLine, create_member
from rewards.errors import RewardsError
from rewards.models import Coupon, Reward, TopUpRule
from rewards.services import stored_value
from rewards.services.coupons import issue_coupon, redeem_coupon
from rewards.services.redemptions import redeem_reward

# The phone to sign in with at /m/login/ (the one-time code is in the development SMS log).
TERMS_TEXT = """一、会员资格：凭手机号免费加入，一个手机号对应一个会员。
二、积分：每实付 1 元累计 1 积分，积分有效期至当年 12 月 31 日，年底清零。
三、等级：按累计消费自动升级（普通会员、银卡、金卡、钻石），享受相应折扣。
四、优惠券与礼品：兑换后在有效期内使用，不可兑换现金。
五、条款变更：条款更新后，您下次登录会员中心时需重新确认。

1. Membership: free to join with your mobile number; one member per number.
2. Points: 1 point per ¥1 paid, valid until 31 December of the year, cleared at year end.
3. Tiers: upgraded automatically by cumulative spend (Regular, Silver, Gold, Diamond), each with its discount.
4. Coupons and rewards: use them before they expire; they cannot be exchanged for cash.
5. Changes: when these terms change, you confirm them at your next visit to the member centre."""

PRIVACY_TEXT = """我们收集：姓名、手机号，以及您自愿提供的邮箱和生日；您的消费记录与积分。
用途：会员身份识别、积分与等级、客户服务；仅在您单独同意后，才会通过短信、邮件或微信向您发送营销信息，您可随时撤回。
存储：手机号、邮箱与生日加密保存；您可以在会员中心下载您的数据或申请注销账户。

We collect your name and mobile number, and the email and birthday you choose to give; your purchases and points.
We use them to recognise you as a member, keep your points and tier, and serve you. We send offers by SMS,
email or WeChat only with your separate consent, which you can withdraw at any time.
Your phone, email and birthday are stored encrypted; you can download your data or ask to close your account
in the member centre."""

VERSIONS = (
    (TermsVersion.Kind.TERMS, "2026-01", "会员条款 / Terms of membership", TERMS_TEXT),
    (TermsVersion.Kind.PRIVACY, "2026-01", "隐私政策 / Privacy notice", PRIVACY_TEXT),
)


def ensure_terms(*, actor=None) -> list[TermsVersion]:
    """Publish the demo's terms and privacy notice once (a second run keeps them)."""
    for kind, version, title, text in VERSIONS:
        row = TermsVersion.objects.filter(kind=kind, version=version).first()
        if row is None:  # a draft, as a manager writes it in the admin; then published
            row = configured(TermsVersion(kind=kind, version=version, title=title, text=text))
        if not row.is_published:
            services.publish_terms_version(version=row, actor=actor)
    return services.current_terms()


def accept_for_members(members: list[Member], versions: list[TermsVersion]) -> int:
    """The seeded members accepted the current texts when they joined at a counter."""
    return services.record_terms_accepted(
        member_ids=[member.pk for member in members], versions=versions, source="staff"
    )


DEMO_MEMBER_PHONE = "13800138000"
DEMO_MEMBER_NAME = "林小雨"


@dataclass
class CentreCounts:
    member_no: str = ""
    created: bool = False
    purchases: int = 0


def centre_member_exists() -> bool:
    return Member.objects.with_phone(DEMO_MEMBER_PHONE).exists()


def _day(horizon: datetime.datetime, days: int, hour: int = 15) -> datetime.datetime:
    return day_at(horizon.date() - datetime.timedelta(days=days), hour)


def _last_year(horizon: datetime.datetime) -> datetime.datetime:
    """A day of last year: its points clear on 31 December this year (“每年年底清零”)."""
    return day_at(datetime.date(horizon.year - 1, 11, 20), 16)


def ensure_centre_member(
    counts: CentreCounts,
    *,
    horizon: datetime.datetime,
    store,
    products: list,
    templates: dict,
    friend: Member | None,
    staff,
) -> Member:
    existing = Member.objects.with_phone(DEMO_MEMBER_PHONE).first()
    if existing is not None:
        counts.member_no = existing.member_no
        return existing
    priced = [product for product in products if product.unit_price]
    with at(_last_year(horizon) - datetime.timedelta(days=30)) as joined:
        member = create_member(
            name=DEMO_MEMBER_NAME,
            phone=DEMO_MEMBER_PHONE,
            birthday=datetime.date(1992, 5, 18),
            consents={
                ConsentTopic.DATA_PROCESSING: True,
                ConsentTopic.MARKETING_SMS: True,
                ConsentTopic.MARKETING_WECHAT: True,
                ConsentTopic.MARKETING_EMAIL: False,
            },
            home_store=store,
            registered_at=joined,
        )
    counts.member_no, counts.created = member.member_no, True
    accept_for_members([member], services.current_terms())  # she signs in straight to her card

    def buy(moment: datetime.datetime, ref: str, amount: str) -> None:
        product = priced[len(ref) % len(priced)] if priced else None
        line = PurchaseLine(
            sku=product.sku if product else "DEMO-BOUQUET",
            name=product.name if product else "花束",
            quantity=1,
            unit_price=Decimal(amount),
        )
        with at(moment):
            loyalty.record_purchase(
                member=member, external_ref=ref, ordered_at=moment, items=[line], store=store, actor=staff
            )
        counts.purchases += 1

    # Spend of 820 in all: Silver (1,000) is ¥180 away. Last year's points (the sign-up bonus and
    # 600 earned), less the 500 redeemed since (oldest first), clear on 31 December this year.
    buy(_last_year(horizon), "DEMO-MC-1", "600.00")
    buy(_day(horizon, 70), "DEMO-MC-2", "120.00")
    buy(_day(horizon, 21), "DEMO-MC-3", "100.00")

    def redeem(days: int, name: str, key: str) -> list[Coupon]:
        reward = Reward.objects.filter(name=name, is_active=True).first()
        if reward is None:
            return []
        with at(_day(horizon, days)):
            try:
                return redeem_reward(member=member, reward=reward, idempotency_key=key, actor=None).coupons
            except RewardsError:
                return []

    redeem(12, "满100减10元券", "demo-centre-1")  # valid for 60 days
    delivery = redeem(30, "免配送费券", "demo-centre-2")
    if delivery:  # used on the next order
        with at(_day(horizon, 21, 16)):
            redeem_coupon(code=delivery[0].code, member=member, external_ref="DEMO-MC-3-USE", actor=staff)
    birthday = templates.get("birthday")
    if birthday is not None:  # last year's birthday coupon, long expired
        with at(day_at(datetime.date(horizon.year - 1, 5, 10), 11)), contextlib.suppress(RewardsError):
            issue_coupon(template=birthday, member=member, source=Coupon.Source.MANUAL, actor=staff)

    # Stored value: 充500送50 two months ago, a payment since, and a friend's ¥100 gift claimed.
    rule = TopUpRule.objects.filter(is_active=True, pay_amount__lte=Decimal("500.00")).order_by("-bonus_amount").first()
    with at(_day(horizon, 60, 11)):
        stored_value.top_up(
            member=member,
            amount=Decimal("500.00"),
            rule=rule,
            payment_method="wechat_pay",
            external_ref="DEMO-MC-TU-1",
            store=store,
            actor=staff,
        )
    with at(_day(horizon, 21, 16)):
        stored_value.pay_from_balance(
            member=member, amount=Decimal("128.00"), external_ref="DEMO-MC-SV-1", store=store, actor=staff
        )
    if friend is not None:
        try:
            with at(_day(horizon, 9, 10)):
                stored_value.top_up(
                    member=friend,
                    amount=Decimal("300.00"),
                    rule=None,
                    payment_method="cash",
                    external_ref="DEMO-MC-TU-FRIEND",
                    store=friend.home_store,
                    actor=staff,
                )
                sent = stored_value.send_gift(
                    buyer=friend,
                    recipient_phone=DEMO_MEMBER_PHONE,
                    amount=Decimal("100.00"),
                    external_ref="DEMO-MC-GIFT-1",
                    store=friend.home_store,
                )
            with at(_day(horizon, 8, 19)):
                stored_value.claim_gift(code=sent.code, member=member)
        except RewardsError:
            pass
    return member
