"""Partner marketing (联合营销): partner coupons on purchases of 200 or more, partner codes
accepted at checkout, and the per-partner report.

- A `PartnerOffer` gives a purchase whose paid total reaches its threshold (200.00 by default)
  one partner coupon — a rewards coupon of the offer's template, or one code from a pool the
  partner supplied — once per (offer, purchase): the database's unique constraint makes a second
  issue impossible however often the posting is replayed. Issued after the purchase commits
  (campaigns.receivers); a refund does not take it back.
- Codes a partner gave its own customers (a pool of purpose "accept") are accepted at our checkout
  by `accept_partner_code`: the code is used once, and the member gets a rewards coupon of the
  pool's template (source "partner"), which the checkout quote, coupon validation and coupon
  redemption then handle like any coupon.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Partner, PartnerCode, PartnerCodePool, PartnerOffer, PartnerOfferIssue
from campaigns.referrals import members_for_update
from loyalty_crm.bulk import AnyOf
from loyalty_crm.errors import DomainError
from members.models import Member, Purchase
from members.services import MemberErased
from rewards.models import Coupon
from rewards.services.coupons import issue_coupon, normalise_code

logger = logging.getLogger("campaigns.partners")

CODE_MAX_LENGTH = 32


class PartnerCodeInvalid(DomainError):
    """The partner code cannot be accepted: `reason` says why (unknown, used, void, expired,
    not_yet_valid). The API answers 409 `coupon_invalid`, like a coupon that cannot be used."""

    code = "coupon_invalid"

    def __init__(self, detail: str, *, reason: str):
        super().__init__(detail)
        self.reason = reason


class PoolEmpty(DomainError):
    code = "partner_codes_exhausted"


# --- offers on purchases -------------------------------------------------------------------


def active_offers() -> list[PartnerOffer]:
    """The active offers of active partners, in primary-key order (one query)."""
    return list(
        PartnerOffer.objects.select_related("partner", "coupon_template", "code_pool")
        .filter(is_active=True, partner__is_active=True)
        .order_by("pk")
    )


def qualifies(offer: PartnerOffer, purchase: Purchase) -> bool:
    """Whether `purchase` earns `offer`: valid when the purchase was made, threshold reached by
    its paid total."""
    at = purchase.ordered_at
    return (
        offer.threshold <= purchase.total
        and (offer.valid_from is None or offer.valid_from <= at)
        and (offer.valid_until is None or offer.valid_until > at)
    )


def offers_for(purchase: Purchase) -> list[PartnerOffer]:
    """The active offers of active partners, valid when the purchase was made, whose threshold
    the purchase's paid total reaches."""
    return [offer for offer in active_offers() if qualifies(offer, purchase)]


def may_have_offers(*, total: Decimal, at: datetime.datetime) -> bool:
    """Whether a purchase of `total` paid at `at` earns any offer: `qualifies` over the active
    offers of active partners, read in plain SQL without their related rows — it runs after every
    posting, so the common case (no offer applies) costs one small query and no purchase re-read.
    `issue_partner_offers` then decides with `offers_for` (the same rule)."""
    quote = connection.ops.quote_name
    offer, partner = quote(PartnerOffer._meta.db_table), quote(Partner._meta.db_table)
    active = PartnerOffer.objects.raw(
        f"SELECT o.* FROM {offer} o JOIN {partner} p ON p.id = o.partner_id WHERE o.is_active AND p.is_active"  # noqa: S608
    )
    probe = Purchase(total=total, ordered_at=at)
    return any(qualifies(candidate, probe) for candidate in active)


def issue_partner_offers(*, purchase: Purchase, actor=None) -> list[PartnerOfferIssue]:
    """Give `purchase` every partner offer it qualifies for and has not had yet.

    Each offer commits on its own; an offer that cannot be given (its coupon template off, the
    member's coupon limit, the partner's codes used up) is logged and skipped, the others go on.
    Safe to call again for the same purchase: it gives nothing twice.
    """
    purchase = Purchase.objects.select_related("member").get(pk=purchase.pk)
    return _issue(purchase, offers_for(purchase), actor)


def issue_partner_offers_for(*, purchase_ids: list[int], actor=None) -> list[PartnerOfferIssue]:
    """`issue_partner_offers` for many purchases (those recorded in bulk): the offers are loaded
    once, and only the purchases that qualify for one are handled, each as `issue_partner_offers`
    handles it. A purchase whose offers fail unexpectedly is logged and the others go on."""
    offers = active_offers()
    if not offers:
        return []
    issued = []
    ids = sorted(set(purchase_ids))
    for start in range(0, len(ids), 10_000):
        for purchase in (
            Purchase.objects.select_related("member").filter(AnyOf(F("pk"), ids[start : start + 10_000])).order_by("pk")
        ):
            qualified = [offer for offer in offers if qualifies(offer, purchase)]
            if not qualified:
                continue
            try:
                issued += _issue(purchase, qualified, actor)
            except Exception:
                logger.exception("Partner offers not given for purchase %s", purchase.pk)
    return issued


def _issue(purchase: Purchase, offers: list[PartnerOffer], actor) -> list[PartnerOfferIssue]:
    if purchase.member.status != Member.Status.ACTIVE:
        return []
    issued = []
    for offer in offers:
        try:
            issue = issue_offer(offer=offer, purchase=purchase, actor=actor)
        except DomainError as error:
            logger.warning("Partner offer %s not given for purchase %s: %s", offer.pk, purchase.pk, error.code)
            continue
        if issue is not None:
            issued.append(issue)
    return issued


@transaction.atomic
def issue_offer(*, offer: PartnerOffer, purchase: Purchase, actor=None) -> PartnerOfferIssue | None:
    """Issue `offer` for `purchase` once; None when it was issued before. Raises PoolEmpty when the
    partner's codes are used up, or rewards' coupon errors; nothing is written then."""
    members_for_update([purchase.member_id])
    if PartnerOfferIssue.objects.filter(offer=offer, purchase=purchase).exists():
        return None
    issue = PartnerOfferIssue(offer=offer, purchase=purchase, member_id=purchase.member_id)
    try:
        with transaction.atomic():
            issue.save(force_insert=True)
    except IntegrityError:
        return None
    if offer.coupon_template_id:
        issue.coupon = issue_coupon(
            template=offer.coupon_template, member=purchase.member, source=Coupon.Source.PARTNER, actor=actor
        )
    else:
        issue.partner_code = _hand_out_code(offer.code_pool, purchase)
    issue.save(update_fields=["coupon", "partner_code"])
    return issue


def _hand_out_code(pool: PartnerCodePool, purchase: Purchase) -> PartnerCode:
    now = timezone.now()
    usable = pool.is_active and (pool.valid_until is None or pool.valid_until > now)
    code = (
        PartnerCode.objects.select_for_update(skip_locked=True)
        .filter(pool=pool, status=PartnerCode.Status.AVAILABLE)
        .order_by("pk")
        .first()
        if usable
        else None
    )
    if code is None:
        raise PoolEmpty(_("The partner codes of “%(pool)s” are used up or no longer valid.") % {"pool": pool})
    code.status = PartnerCode.Status.ISSUED
    code.member_id = purchase.member_id
    code.external_ref = purchase.external_ref
    code.used_at = now
    code.save(update_fields=["status", "member", "external_ref", "used_at"])
    return code


# --- partner codes accepted at checkout ----------------------------------------------------


@dataclass(frozen=True)
class PartnerCodeUse:
    partner_code: PartnerCode
    coupon: Coupon
    created: bool  # False when this answers a retry (same member and order)


@transaction.atomic
def accept_partner_code(*, code: str, member: Member, external_ref: str, actor=None) -> PartnerCodeUse:
    """Accept a code a partner gave its customer: used once, it becomes `member`'s coupon.

    The member's row is locked first, then the code's, so two tills accepting one code queue and
    the second is refused (PartnerCodeInvalid "used"); the same member and order reference again
    answer the first result. Refused too: an unknown code, or one whose pool or partner is
    switched off ("void"), ended ("expired") or not started ("not_yet_valid").
    """
    external_ref = (external_ref or "").strip()
    if not external_ref:
        raise ValidationError({"external_ref": [_("Enter the order reference.")]})
    locked = members_for_update([member.pk])
    if not locked or locked[0].is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    member = locked[0]
    partner_code = (
        PartnerCode.objects.select_for_update(of=("self",))
        .select_related("pool", "pool__partner", "pool__coupon_template", "coupon")
        .filter(code=normalise_code(code), pool__purpose=PartnerCodePool.Purpose.ACCEPT)
        .first()
    )
    if partner_code is None:
        raise PartnerCodeInvalid(_("No partner code has this code."), reason="unknown")
    if partner_code.status == PartnerCode.Status.ACCEPTED:
        if partner_code.member_id == member.pk and partner_code.external_ref == external_ref:
            return PartnerCodeUse(partner_code=partner_code, coupon=partner_code.coupon, created=False)
        raise PartnerCodeInvalid(
            _("This partner code was already used (order %(ref)s).") % {"ref": partner_code.external_ref or "—"},
            reason="used",
        )
    pool, now = partner_code.pool, timezone.now()
    if not pool.is_active or not pool.partner.is_active:
        raise PartnerCodeInvalid(_("This partner's codes are no longer accepted."), reason="void")
    if pool.valid_until and pool.valid_until <= now:
        raise PartnerCodeInvalid(_("This partner code has expired."), reason="expired")
    if pool.valid_from and pool.valid_from > now:
        raise PartnerCodeInvalid(_("This partner code cannot be used yet."), reason="not_yet_valid")
    coupon = issue_coupon(template=pool.coupon_template, member=member, source=Coupon.Source.PARTNER, actor=actor)
    partner_code.status = PartnerCode.Status.ACCEPTED
    partner_code.member = member
    partner_code.coupon = coupon
    partner_code.external_ref = external_ref
    partner_code.used_at = now
    partner_code.save(update_fields=["status", "member", "coupon", "external_ref", "used_at"])
    return PartnerCodeUse(partner_code=partner_code, coupon=coupon, created=True)


# --- importing codes -----------------------------------------------------------------------


@dataclass(frozen=True)
class CodeImport:
    added: int
    already_in_pool: int


@transaction.atomic
def import_partner_codes(*, pool: PartnerCodePool, lines: list[str]) -> CodeImport:
    """Add the partner's codes (one a line; spaces and dashes ignored, any case) to `pool`.

    All or nothing: a code too long, or already in another pool, is a ValidationError naming its
    line, and nothing is added. Codes already in this pool are skipped (a file imported twice).
    """
    codes: dict[str, int] = {}
    errors = []
    for number, raw in enumerate(lines, start=1):
        code = normalise_code(raw)
        if not code:
            continue
        if len(code) > CODE_MAX_LENGTH:
            errors.append(_("Line %(line)d: the code is longer than %(max)d characters.") % {"line": number, "max": 32})
            continue
        codes.setdefault(code, number)
    existing = dict(PartnerCode.objects.filter(code__in=codes).values_list("code", "pool_id"))
    for code, pool_id in existing.items():
        if pool_id != pool.pk:
            errors.append(
                _("Line %(line)d: the code %(code)s is already in another pool.") % {"line": codes[code], "code": code}
            )
    if errors:
        raise ValidationError({"codes": errors[:20]})
    if not codes:
        raise ValidationError({"codes": [_("The file holds no codes.")]})
    new = [PartnerCode(pool=pool, code=code) for code in codes if code not in existing]
    PartnerCode.objects.bulk_create(new, batch_size=2000)
    return CodeImport(added=len(new), already_in_pool=len(existing))


# --- the per-partner report ----------------------------------------------------------------


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
