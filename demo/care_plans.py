"""The demo's care plans (issue 17): the shop's two plans — "鲜花养护计划" (a bouquet replaced free
once within 7 days) and an extended protection for the crystal vase (a year, one replacement) —
sold with purchases over the last weeks and months, some claimed (settled with a replacement, one
rejected, one still open), some running, some ended; the member-centre member holds one of each;
the expiry reminder switched on.

Every change goes through the owning services at a past moment (`demo.clock`); the plans are what
a manager configures in the admin (`configured`). Members are taken in order, with no random draw.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from campaigns.models import Automation
from campaigns.services import automations
from demo.centre import DEMO_MEMBER_PHONE
from demo.clock import at, day_at
from demo.configured import configured
from members.models import Category, Member, Product
from members.services import PurchaseLine
from rewards.models import CarePlan, CarePlanSale
from rewards.services import care_plans, post_purchase

FLOWER_CARE = "flower-care"
VASE_PROTECTION = "vase-protection"
FLOWER_CATEGORIES = ["bouquets", "roses", "carnations", "lilies"]
VASE_SKU = "VASE-CRYS"
BOUQUET_SKU = "FB-SUN"
# (plan, days before today it was sold, what became of the claim: None, "settle", "reject", "open")
HISTORY = [
    (FLOWER_CARE, 45, None),
    (FLOWER_CARE, 30, "settle"),  # ended since
    (FLOWER_CARE, 20, "reject"),
    (FLOWER_CARE, 12, None),  # ended unclaimed
    (FLOWER_CARE, 5, "settle"),
    (FLOWER_CARE, 4, "open"),  # support's queue
    (FLOWER_CARE, 2, None),
    (FLOWER_CARE, 1, None),
    (VASE_PROTECTION, 200, "settle"),
    (VASE_PROTECTION, 90, None),
    (VASE_PROTECTION, 15, None),
]


@dataclass
class CarePlanCounts:
    plans: int = 0
    sold: int = 0
    claims: int = 0


def ensure_plans(counts: CarePlanCounts) -> dict[str, CarePlan]:
    """The shop's plans (kept as they are when they exist)."""
    plans = {plan.code: plan for plan in CarePlan.objects.filter(code__in=[FLOWER_CARE, VASE_PROTECTION])}
    if FLOWER_CARE not in plans:
        plan = configured(
            CarePlan(
                code=FLOWER_CARE,
                name="鲜花养护计划",
                coverage="购买后7天内花材非人为原因枯萎、变质，免费更换同款花束一次。",
                price=Decimal("19.90"),
                duration=7,
                duration_unit=CarePlan.DurationUnit.DAYS,
                claims_allowed=1,
                requires_original_purchase=True,
                sell_within_days=0,
            )
        )
        plan.categories.set(Category.objects.filter(code__in=FLOWER_CATEGORIES))
        plans[FLOWER_CARE] = plan
        counts.plans += 1
    if VASE_PROTECTION not in plans:
        plan = configured(
            CarePlan(
                code=VASE_PROTECTION,
                name="水晶花瓶延长保障",
                coverage="一年内意外破损（摔碎、裂纹）免费换新一次，凭原购买记录办理。",
                price=Decimal("39.00"),
                duration=12,
                duration_unit=CarePlan.DurationUnit.MONTHS,
                claims_allowed=1,
                requires_original_purchase=True,
                sell_within_days=30,
            )
        )
        plan.products.set(Product.objects.filter(sku=VASE_SKU))
        plans[VASE_PROTECTION] = plan
        counts.plans += 1
    return plans


def _sell(plan, member, *, sku, day: datetime.date, ref: str, store, staff) -> CarePlanSale:
    product = Product.objects.get(sku=sku)
    with at(day_at(day, 11, 20)):
        posting = post_purchase(
            member=member,
            external_ref=ref,
            ordered_at=day_at(day, 11, 20),
            items=[PurchaseLine(sku=product.sku, name=product.name, quantity=1, unit_price=product.unit_price)],
            store=store,
            channel="store",
            payment_method="wechat_pay",
            actor=staff,
        )
        return care_plans.sell_care_plan(
            member=member,
            plan=plan,
            purchase_item=posting.purchase.items.get(),
            idempotency_key=f"{ref}-CARE",
            actor=staff,
        ).sale


def _claim(sale, *, outcome: str, day: datetime.date, store, support) -> None:
    with at(day_at(day, 15, 5)):
        claim = care_plans.claim_care_plan(
            sale=sale,
            description="花束第二天开始大面积萎蔫，花头下垂。"
            if sale.plan.code == FLOWER_CARE
            else "花瓶不慎摔出裂纹。",
            idempotency_key=f"DEMO-CLAIM-{sale.pk}",
            store=store,
            actor=support,
        ).claim
    if outcome == "open":
        return
    with at(day_at(day, 16, 30)):
        if outcome == "reject":
            care_plans.reject_care_plan_claim(
                claim=claim, reason="照片显示花束长时间未加水，属养护不当，不在保障范围。", actor=support
            )
        else:
            care_plans.settle_care_plan_claim(
                claim=claim, replacement="product", store=store, note="已更换同款新品。", actor=support
            )


def seed(*, members: list[Member], horizon: datetime.datetime, staff, support, marketing) -> CarePlanCounts:
    """The plans, their year of sales and claims, the centre member's plans, the expiry reminder on."""
    counts = CarePlanCounts()
    plans = ensure_plans(counts)
    if CarePlanSale.objects.filter(idempotency_key__startswith="DEMO-CP-").exists():
        return counts  # a second run adds nothing
    today = horizon.date()
    buyers = [m for m in members if m.status == Member.Status.ACTIVE and m.phone][: len(HISTORY)]
    for (code, days, outcome), member in zip(HISTORY, buyers, strict=False):
        day = today - datetime.timedelta(days=days)
        sale = _sell(
            plans[code],
            member,
            sku=BOUQUET_SKU if code == FLOWER_CARE else VASE_SKU,
            day=day,
            ref=f"DEMO-CP-{member.member_no}",
            store=member.home_store,
            staff=staff,
        )
        counts.sold += 1
        if outcome:
            claim_day = day + datetime.timedelta(days=2 if code == FLOWER_CARE else 60)
            _claim(sale, outcome=outcome, day=min(claim_day, today), store=member.home_store, support=support)
            counts.claims += 1
    centre_member = Member.objects.with_phone(DEMO_MEMBER_PHONE).first()
    if centre_member is not None:
        # One bouquet with its care plan yesterday: her spend stays just under Silver, so her card
        # still shows how little is left to the next tier (demo/centre.py).
        for code, sku, days in [(FLOWER_CARE, BOUQUET_SKU, 1)]:
            _sell(
                plans[code],
                centre_member,
                sku=sku,
                day=today - datetime.timedelta(days=days),
                ref=f"DEMO-CP-{centre_member.member_no}-{code}",
                store=centre_member.home_store,
                staff=staff,
            )
            counts.sold += 1
    automation = Automation.objects.filter(kind=Automation.Kind.CARE_PLAN_EXPIRY, holiday="").first()
    if automation is not None and not automation.enabled:
        automations.update_automation(automation=automation, actor=marketing, enabled=True)
    return counts
