"""The member centre's demo: the current terms of membership and privacy notice (in Chinese and
English), published by the demo manager and accepted by the seeded members, so signing in to `/m/`
goes straight to the member's pages; `/m/join/` shows them to a new customer."""

from __future__ import annotations

from demo.configured import configured
from members import services
from members.models import Member, TermsVersion

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
