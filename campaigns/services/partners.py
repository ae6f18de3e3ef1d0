"""Partner marketing (联合营销), the writers: partner coupons on purchases of 200 or more,
partner codes accepted at checkout, partner codes imported into a pool. (The offers a purchase
earns and the per-partner report are questions: `campaigns.selectors.partners`.)

- A `PartnerOffer` gives a purchase whose paid total reaches its threshold (200.00 by default)
  one partner coupon — a rewards coupon of the offer's template, or one code from a pool the
  partner supplied — once per (offer, purchase): the database's unique constraint makes a second
  issue impossible however often the posting is replayed. Issued after the purchase commits
  (campaigns.referral_receivers); a refund does not take it back.
- Codes a partner gave its own customers (a pool of purpose "accept") are accepted at our checkout
  by `accept_partner_code`: the code is used once, and the member gets a rewards coupon of the
  pool's template (source "partner"), which the checkout quote, coupon validation and coupon
  redemption then handle like any coupon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import lock_objects, rules
from campaigns.errors import PartnerCodeInvalid, PoolEmpty
from campaigns.models import PartnerCode, PartnerCodePool, PartnerOffer, PartnerOfferIssue
from campaigns.selectors.partners import active_offers, offers_for
from loyalty_crm.bulk import AnyOf
from loyalty_crm.errors import DomainError
from members.models import Member, Purchase
from members.services import MemberErased
from rewards.models import Coupon
from rewards.services.coupons import issue_coupon, normalise_code

logger = logging.getLogger("campaigns.partners")

CODE_MAX_LENGTH = 32


# --- offers on purchases -------------------------------------------------------------------


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
            qualified = [offer for offer in offers if rules.partner_offer_qualifies(offer, purchase)]
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
    lock_objects.members_for_update([purchase.member_id])
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
    locked = lock_objects.members_for_update([member.pk])
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
