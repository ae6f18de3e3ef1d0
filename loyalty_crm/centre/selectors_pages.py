"""What the member centre's card, points, coupons, rewards and wallet show: the rewards app's
selectors composed for one signed-in member. The pages (`loyalty_crm.centre.pages`) and the API
(`loyalty_crm.centre.api_pages`) both read through here, so they always agree.

Every function takes the signed-in member and reads only that member's rows; each runs a fixed
number of queries whatever the member's history.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from rewards import member_words, rules, selectors, selectors_stored_value
from rewards.models import Coupon, Redemption, Reward, StoredValueEntry, StoredValueGift, Tier

ZERO = Decimal("0.00")
COUPON_STATES = ("valid", "used", "expired")
# `selectors.member_coupons` states, folded into the three a member sees.
_STATE_GROUP = {"valid": "valid", "not_yet_valid": "valid", "used": "used", "expired": "expired", "void": "expired"}


@dataclass(frozen=True)
class NextTierText:
    tier: Tier
    missing: Decimal
    counts_points: bool

    @property
    def text(self) -> str:
        """“Spend ¥447.80 more to reach Gold” (or points, under a points-based tier policy)."""
        if self.counts_points:
            return _("Earn %(points)s more points to reach %(tier)s") % {
                "points": int(self.missing),
                "tier": self.tier.display_name,
            }
        return _("Spend ¥%(amount)s more to reach %(tier)s") % {
            "amount": f"{self.missing:.2f}",
            "tier": self.tier.display_name,
        }


@dataclass(frozen=True)
class YearEndClearing:
    points: int
    on: datetime.date


@dataclass(frozen=True)
class Overview:
    """The card: who, which tier and what it gives, points, stored value, the next tier."""

    member: Member
    tier: Tier
    benefits: list[str]
    points_balance: int
    principal: Decimal
    bonus: Decimal
    has_wallet: bool
    next_tier: NextTierText | None
    expiring: list[selectors.ExpiringPoints]
    year_end: YearEndClearing | None
    ledger_page: Page
    lifetime_earned: int

    @property
    def stored_value(self) -> Decimal:
        return self.principal + self.bonus


def tier_benefits(tier: Tier | None) -> list[str]:
    """The tier's benefits in the reader's language: the typed text (seeded in English and
    translated when shown, like the name), else what the discount and free delivery say."""
    if tier is None:
        return []
    if tier.benefits:
        return [_(tier.benefits)]
    shown = []
    if tier.discount_percent:
        shown.append(_("%(value)s%% off") % {"value": tier.discount_percent.normalize()})
    if tier.free_delivery:
        shown.append(_("Free delivery"))
    return shown


def year_end_clearing(member: Member, today: datetime.date | None = None) -> YearEndClearing | None:
    """In December, under a year-end policy ("每年年底清零"), the points that clear on 31 December."""
    from rewards.services.ledger import active_expiry_policy

    today = today or timezone.localdate()
    kind, _months = active_expiry_policy()
    if today.month != 12 or kind not in (rules.YEAR_END, rules.YEAR_END_NEXT):
        return None
    last = datetime.date(today.year, 12, 31)
    due = selectors.points_expiring_between(member, today, last)
    return YearEndClearing(points=due.points, on=last) if due.points else None


def overview(member: Member, *, page: object = 1, per_page: int = 20) -> Overview:
    """The member's card and points figures, with one page of the points history (newest first)."""
    panel = selectors.points_panel(member, page=page, per_page=per_page)
    sv = selectors_stored_value.wallet(member, last=0)
    next_tier = None
    if panel.next_tier is not None:
        next_tier = NextTierText(
            tier=panel.next_tier.tier, missing=panel.next_tier.missing, counts_points=panel.counts_points
        )
    return Overview(
        member=member,
        tier=panel.summary.tier,
        benefits=tier_benefits(panel.summary.tier),
        points_balance=panel.summary.balance,
        principal=sv.principal,
        bonus=sv.bonus,
        has_wallet=sv.account_id is not None,
        next_tier=next_tier,
        expiring=panel.summary.expiring,
        year_end=year_end_clearing(member),
        ledger_page=panel.ledger_page,
        lifetime_earned=panel.summary.lifetime_earned,
    )


@dataclass(frozen=True)
class HistoryRow:
    id: int
    at: datetime.datetime
    points: int
    balance_after: int
    code: str
    text: str


def history_rows(page: Page) -> list[HistoryRow]:
    return [
        HistoryRow(
            id=entry.pk,
            at=entry.created_at,
            points=entry.points,
            balance_after=entry.balance_after,
            code=entry.reason_code or entry.kind,
            text=member_words.entry_points_text(entry),
        )
        for entry in page.object_list
    ]


# --- coupons ---


@dataclass(frozen=True)
class CouponRow:
    coupon: Coupon
    state: str  # valid, not_yet_valid, used, expired, void
    group: str  # valid, used, expired

    @property
    def name(self) -> str:
        return self.coupon.template.name if self.coupon.template_id else self.coupon.describe()


def coupons(member: Member) -> dict[str, list[CouponRow]]:
    """The member's coupons (the newest `MEMBER_COUPONS_SHOWN`) in the three groups a member sees."""
    grouped: dict[str, list[CouponRow]] = {state: [] for state in COUPON_STATES}
    for item in selectors.member_coupons(member):
        group = _STATE_GROUP.get(item.state, "expired")
        grouped[group].append(CouponRow(coupon=item.coupon, state=item.state, group=group))
    return grouped


def coupon(member: Member, code: str) -> CouponRow | None:
    """One of the member's own coupons by its code; None for another member's or an unknown code."""
    found = Coupon.objects.select_related("template").filter(member=member, code=code[:32]).first()
    if found is None:
        return None
    now = timezone.now()
    if found.status == Coupon.Status.REDEEMED:
        state = "used"
    elif found.status == Coupon.Status.VOID:
        state = "void"
    elif found.expires_at and found.expires_at <= now:
        state = "expired"
    elif found.starts_at and found.starts_at > now:
        state = "not_yet_valid"
    else:
        state = "valid"
    return CouponRow(coupon=found, state=state, group=_STATE_GROUP[state])


# --- rewards ---

# Why a member cannot redeem a reward now, as codes (the API's `reason_code`).
NOT_YET = "not_yet_available"
TIER = "tier_too_low"
PAID_PLAN = "paid_members_only"
OUT_OF_STOCK = "out_of_stock"
LIMIT = "limit_reached"
POINTS = "insufficient_points"


@dataclass(frozen=True)
class RewardOffer:
    reward: Reward
    available: bool
    reason_code: str  # "" when available
    reason: str  # the member's sentence ("" when available)
    points_missing: int = 0


@dataclass(frozen=True)
class Catalogue:
    points_balance: int
    available: list[RewardOffer] = field(default_factory=list)
    unavailable: list[RewardOffer] = field(default_factory=list)

    @property
    def offers(self) -> list[RewardOffer]:
        return self.available + self.unavailable


def _why_not(reward: Reward, *, tier: Tier, now, redeemed: int) -> tuple[str, str]:
    """The member's reason for a reward `rewards_available_to` leaves out (points aside)."""
    if reward.valid_from and reward.valid_from > now:
        day = timezone.localdate(reward.valid_from)
        return NOT_YET, _("Available from %(date)s") % {"date": day.isoformat()}
    if reward.min_tier_id and reward.min_tier.rank > tier.rank:
        return TIER, _("For %(tier)s members and above") % {"tier": reward.min_tier.display_name}
    if reward.stock is not None and reward.stock <= 0:
        return OUT_OF_STOCK, _("All gone")
    if reward.per_member_limit and redeemed >= reward.per_member_limit:
        return LIMIT, _("You have redeemed this as often as allowed")
    if reward.plan_members_only:
        return PAID_PLAN, _("For paid members only")
    return NOT_YET, _("Not available at the moment")


def catalogue(member: Member, *, now=None) -> Catalogue:
    """The rewards on offer (active, not past their end date), each with whether the member may
    redeem it now and, if not, why in the member's words: what `rewards_available_to` allows, then
    the points balance. A fixed number of queries."""
    from django.db.models import Q, Sum

    now = now or timezone.now()
    tier = selectors.member_tier(member)
    balance = selectors.points_summary(member, expiring_dates=0).balance
    shown = list(
        Reward.objects.filter(is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .select_related("min_tier", "coupon_template")
        .order_by("points_cost", "name", "pk")[:100]
    )
    ids = [reward.pk for reward in shown]
    open_ids = set(
        selectors.rewards_available_to(Reward.objects.filter(pk__in=ids), member, now=now).values_list("pk", flat=True)
    )
    redeemed = dict(
        Redemption.objects.filter(member=member, status=Redemption.Status.COMPLETED, reward_id__in=ids)
        .order_by()
        .values("reward")
        .annotate(n=Sum("quantity"))
        .values_list("reward", "n")
    )
    result = Catalogue(points_balance=balance)
    for reward in shown:
        if reward.pk not in open_ids:
            code, text = _why_not(reward, tier=tier, now=now, redeemed=redeemed.get(reward.pk, 0))
            result.unavailable.append(RewardOffer(reward, False, code, text))
        elif reward.points_cost > balance:
            missing = reward.points_cost - balance
            text = _("%(points)d more points needed") % {"points": missing}
            result.unavailable.append(RewardOffer(reward, False, POINTS, text, points_missing=missing))
        else:
            result.available.append(RewardOffer(reward, True, "", ""))
    return result


def redemption_key(member: Member, key: str) -> str:
    """The member's idempotency key as stored: scoped to the member (two members, or a member and
    the till, choosing the same key never meet) and within the column's 64 characters."""
    digest = hashlib.sha256(f"{member.pk}:{key}".encode()).hexdigest()
    return f"me-{digest[:48]}"


def redemption(member: Member, redemption_id: int) -> Redemption | None:
    """One of the member's own redemptions with its coupons; None for another member's."""
    return selectors.redemptions().filter(member=member, pk=redemption_id).first()


# --- stored value ---


@dataclass(frozen=True)
class WalletRow:
    id: int
    at: datetime.datetime
    kind: str
    text: str
    principal_delta: Decimal
    bonus_delta: Decimal

    @property
    def amount(self) -> Decimal:
        return self.principal_delta + self.bonus_delta

    @property
    def shown(self) -> str:
        """“+¥100.00” / “−¥20.00”."""
        sign = "−" if self.amount < 0 else "+"
        return f"{sign}¥{abs(self.amount):.2f}"


def wallet_rows(entries: list[StoredValueEntry]) -> list[WalletRow]:
    return [
        WalletRow(
            id=entry.pk,
            at=entry.created_at,
            kind=entry.kind,
            text=member_words.stored_value_text(kind=entry.kind),
            principal_delta=entry.principal_delta,
            bonus_delta=entry.bonus_delta,
        )
        for entry in entries
    ]


def wallet_entry(member: Member, entry_id: int) -> StoredValueEntry | None:
    """One of the member's own stored-value rows; None for another member's."""
    return StoredValueEntry.objects.filter(member=member, pk=entry_id).first()


def gift_already_claimed_by(member: Member, code: str) -> StoredValueGift | None:
    """The gift with this code if `member` claimed it already (a retried claim answers its result)."""
    from loyalty_crm import crypto
    from rewards.services.stored_value import normalise_gift_code

    code = normalise_gift_code(code)
    if not code:
        return None
    return StoredValueGift.objects.filter(code_hash__in=crypto.lookup_hashes(code), claimed_by=member).first()


def wallet_page(member: Member, *, page: object = 1, per_page: int = 20):
    """One page of the member's stored-value ledger, newest first (a COUNT and a page query)."""
    from django.core.paginator import Paginator

    return Paginator(selectors_stored_value.entries_of(member), per_page).get_page(page)
