"""The demo's stored-value slice (储值卡): the shop's top-up rules and the reminder before a bonus
lapses, then a year of their use — top-ups with their bonus, payments from the balance, a refund,
gifts bought for a friend's phone and claimed.

Every change goes through `rewards.services.stored_value` at a past moment (`demo.clock`); the rules
are what a manager configures in the admin (`configured`). Drawn from its own
`random.Random(f"{seed}:stored_value")`, so the other slices' draws stay as they were.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from campaigns.models import Automation
from campaigns.services import automations
from demo.clock import at, days_before
from demo.configured import configured
from members.models import Member
from rewards import selectors_stored_value
from rewards.errors import RewardsError
from rewards.models import TopUpRule
from rewards.selectors_stored_value import applicable_rules
from rewards.services import stored_value

# (name, pay at least, bonus, bonus lapses after days or None)
RULES = [
    ("充500送50", "500.00", "50.00", None),
    ("充1000送150", "1000.00", "150.00", None),
    ("春季充300送40（赠送金额60天有效）", "300.00", "40.00", 60),
]
TOP_UP_AMOUNTS = ["300.00", "500.00", "500.00", "1000.00", "200.00"]
PAYMENT_METHODS = ["wechat_pay", "wechat_pay", "alipay", "cash", "card"]
SHARE_TOPPING_UP = 0.06
LAPSE_REMINDER_DAYS = 7  # the spring rule's bonus lapses: its holders are told a week before


@dataclass
class StoredValueCounts:
    rules: int = 0
    top_ups: int = 0
    payments: int = 0
    refunds: int = 0
    gifts: int = 0
    gifts_claimed: int = 0


def ensure_rules(counts: StoredValueCounts) -> None:
    """The shop's top-up rules (kept as they are when they exist)."""
    for name, pay, bonus, days in RULES:
        if not TopUpRule.objects.filter(name=name).exists():
            configured(
                TopUpRule(
                    name=name,
                    pay_amount=Decimal(pay),
                    bonus_amount=Decimal(bonus),
                    bonus_expires_after_days=days,
                )
            )
            counts.rules += 1


def ensure_lapse_reminder(*, actor=None) -> bool:
    """Switch on the stored-value bonus lapse reminder (SMS, its default message), as marketing
    does in the admin (`update_automation`); left as it is when already on. True when switched on."""
    automation = Automation.objects.filter(kind=Automation.Kind.BONUS_LAPSE, holiday="").first()
    if automation is None or automation.enabled:
        return False
    automations.update_automation(automation=automation, actor=actor, enabled=True, days_before=LAPSE_REMINDER_DAYS)
    return True


def seed_activity(
    counts: StoredValueCounts, *, members: list[Member], seed: int, horizon: datetime.datetime, staff
) -> None:
    """Some members top up during the year and pay from the balance afterwards; one payment is
    refunded; a few buy a gift for another member's phone, most of which are claimed."""
    rng = random.Random(f"{seed}:stored_value")
    active = [member for member in members if member.status == Member.Status.ACTIVE]
    count = min(len(active), max(1, round(len(active) * SHARE_TOPPING_UP))) if active else 0
    holders = rng.sample(active, count)
    holders.sort(key=lambda member: member.pk)
    friends = [m for m in active if m not in holders and m.phone]
    friends = rng.sample(friends, min(3, len(friends)))
    for index, member in enumerate(holders):
        amount = Decimal(rng.choice(TOP_UP_AMOUNTS))
        day = rng.randint(60, 330)
        with at(days_before(horizon, rng, day, day)):
            offers = applicable_rules(member, amount)
            stored_value.top_up(
                member=member,
                amount=amount,
                rule=offers[0] if offers else None,
                payment_method=rng.choice(PAYMENT_METHODS),
                external_ref=f"DEMO-TU-{member.member_no}",
                store=member.home_store,
                actor=staff,
            )
        counts.top_ups += 1
        if index < len(friends):
            day -= 2
            _gift(counts, buyer=member, friend=friends[index], day=day, claim=index > 0, rng=rng, horizon=horizon)
        balance = stored_value_total(member)
        for visit in range(rng.randint(1, 4)):
            if day < 4:
                break
            day = rng.randint(3, day - 1)
            amount = min(balance, Decimal(rng.choice(["88.00", "128.00", "199.00", "268.00"])))
            if amount <= 0:
                break
            with at(days_before(horizon, rng, day, day)):
                paid = stored_value.pay_from_balance(
                    member=member,
                    amount=amount,
                    external_ref=f"DEMO-SV-{member.member_no}-{visit}",
                    store=member.home_store,
                    actor=staff,
                )
            counts.payments += 1
            balance = paid.total
            if counts.refunds == 0:
                day -= 1  # returned the next day: the bouquet was not delivered
                with at(days_before(horizon, rng, day, day)):
                    balance = stored_value.refund_to_balance(
                        payment=paid.entry, external_ref=f"DEMO-SVR-{member.member_no}", actor=staff
                    ).total
                counts.refunds += 1


def stored_value_total(member: Member) -> Decimal:
    return selectors_stored_value.wallet(member, last=0).total


def _gift(counts: StoredValueCounts, *, buyer, friend, day, claim, rng, horizon) -> None:
    """The buyer gives ¥100 of their principal to a friend's phone; the friend claims it a day later
    (one gift stays unclaimed: the liability report shows it)."""
    with at(days_before(horizon, rng, day, day)):
        try:
            sent = stored_value.send_gift(
                buyer=buyer,
                recipient_phone=friend.phone,
                amount=Decimal("100.00"),
                external_ref=f"DEMO-GIFT-{buyer.member_no}",
                store=buyer.home_store,
            )
        except RewardsError:  # the buyer's principal is short: so would the counter say
            return
    counts.gifts += 1
    if claim:
        with at(days_before(horizon, rng, day - 1, day - 1)):
            stored_value.claim_gift(code=sent.code, member=friend, store=friend.home_store)
        counts.gifts_claimed += 1
