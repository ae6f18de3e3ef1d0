"""Questions about partner marketing: the offers a purchase earns, and the per-partner report
(the writers: `campaigns.services.partners`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from campaigns import _sql, rules
from campaigns.models import Partner, PartnerCode, PartnerOffer
from loyalty_crm import local_cache
from members.models import Purchase
from rewards.models import Coupon

PARTNER_OFFERS_CACHE = "partner-offers"


def active_offers() -> list[PartnerOffer]:
    """The active offers of active partners, in primary-key order (one query)."""
    return list(
        PartnerOffer.objects.select_related("partner", "coupon_template", "code_pool")
        .filter(is_active=True, partner__is_active=True)
        .order_by("pk")
    )


def offers_for(purchase: Purchase) -> list[PartnerOffer]:
    """The active offers of active partners, valid when the purchase was made, whose threshold
    the purchase's paid total reaches."""
    return [offer for offer in active_offers() if rules.partner_offer_qualifies(offer, purchase)]


def may_have_offers(*, total: Decimal, at: datetime.datetime) -> bool:
    """Whether a purchase of `total` paid at `at` earns any offer: `rules.partner_offer_qualifies` over the active
    offers of active partners, read in plain SQL without their related rows — it runs after every
    posting, so the offers are held in each process (`loyalty_crm.local_cache`, reloaded after an
    offer or a partner is saved or deleted, `campaigns.apps`): the common case (no offer applies)
    costs no query and no purchase re-read.
    `services.partners.issue_partner_offers` then decides with `offers_for` (the same rule)."""
    active = local_cache.get(PARTNER_OFFERS_CACHE, lambda: list(_sql.active_partner_offers()))
    if not active:
        return False
    probe = Purchase(total=total, ordered_at=at)
    return any(rules.partner_offer_qualifies(candidate, probe) for candidate in active)


@dataclass
class PartnerMonth:
    month: datetime.date
    coupons_issued: int = 0  # rewards coupons from the partner's offers and accepted codes
    coupons_used: int = 0
    codes_handed_out: int = 0  # partner codes given to our members (used at the partner's)
    codes_accepted: int = 0  # partner codes accepted at our checkout
    revenue: Decimal = field(default_factory=lambda: Decimal("0.00"))  # net paid by orders that used them

    @property
    def redemption_rate(self) -> Decimal | None:
        """Used coupons per 100 issued in the month (by issue month), one decimal."""
        if not self.coupons_issued:
            return None
        return (Decimal(self.coupons_used) * 100 / self.coupons_issued).quantize(Decimal("0.1"))


def months_back(last: datetime.date, count: int) -> list[datetime.date]:
    first_of_last = last.replace(day=1)
    months = []
    year, month = first_of_last.year, first_of_last.month
    for _index in range(count):
        months.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(months))


def partner_coupons(partner: Partner):
    return Coupon.objects.filter(
        Q(partner_offer_issue__offer__partner=partner) | Q(partner_code__pool__partner=partner)
    ).order_by()


def partner_report(*, partner: Partner, months: int = 12, today: datetime.date | None = None) -> list[PartnerMonth]:
    """Per month (oldest first, the last `months` up to `today`): coupons issued and used (by the
    month they were issued, so the rate is the share of that month's coupons used so far), codes
    handed out and accepted, and the revenue (paid total net of refunds, by order month) of the
    orders that used the partner's coupons. A fixed number of queries."""
    today = today or timezone.localdate()
    rows = {m: PartnerMonth(month=m) for m in months_back(today, months)}
    start = timezone.make_aware(datetime.datetime.combine(min(rows), datetime.time()))
    coupons = partner_coupons(partner)

    def month_of(value) -> datetime.date:
        return value.date() if isinstance(value, datetime.datetime) else value

    for item in (
        coupons.filter(issued_at__gte=start)
        .annotate(m=TruncMonth("issued_at"))
        .values("m")
        .annotate(n=Count("pk"), used=Count("pk", filter=Q(status=Coupon.Status.REDEEMED)))
    ):
        row = rows.get(month_of(item["m"]))
        if row:
            row.coupons_issued, row.coupons_used = item["n"], item["used"]
    for item in (
        PartnerCode.objects.filter(pool__partner=partner, used_at__gte=start)
        .exclude(status=PartnerCode.Status.AVAILABLE)
        .order_by()
        .annotate(m=TruncMonth("used_at"))
        .values("m", "status")
        .annotate(n=Count("pk"))
    ):
        row = rows.get(month_of(item["m"]))
        if row and item["status"] == PartnerCode.Status.ISSUED:
            row.codes_handed_out = item["n"]
        elif row:
            row.codes_accepted = item["n"]
    used_refs = coupons.filter(status=Coupon.Status.REDEEMED).exclude(redeemed_ref="").values("redeemed_ref")
    for item in (
        Purchase.objects.filter(external_ref__in=used_refs, ordered_at__gte=start)
        .order_by()
        .annotate(m=TruncMonth("ordered_at"))
        .values("m")
        .annotate(paid=Sum("total"), refunded=Sum("refunded_total"))
    ):
        row = rows.get(month_of(item["m"]))
        if row:
            row.revenue = (item["paid"] or Decimal("0")) - (item["refunded"] or Decimal("0"))
    return [rows[m] for m in sorted(rows)]
