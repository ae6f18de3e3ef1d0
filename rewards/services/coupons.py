"""Coupons: issue codes from a template, check them against an order, use them once, void them.

Codes are 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L), drawn with
`secrets`: 31¹² ≈ 7.9 × 10¹⁷ codes, so guessing one is hopeless and a collision (retried) is rare.
A coupon belongs to one member; only that member can use it. Using it is idempotent for the same
member and order reference, so a POS retry does not fail.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from members.services import MemberErased
from rewards import lock_objects
from rewards.errors import CouponInvalid, CouponLimitReached, CouponTemplateUnavailable, CouponUsed
from rewards.models import Coupon, CouponKind, CouponTemplate
from rewards.services.ledger import real_actor

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def generate_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _index in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What staff type or scan: any case, with spaces or dashes between groups."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def coupon_discount(*, kind: str, value: Decimal, order_total: Decimal) -> Decimal:
    """The discount a coupon gives on `order_total`: a fixed amount (never more than the order),
    a percentage rounded half up to the cent, or 0 for free delivery."""
    order_total = money(order_total)
    if order_total <= 0:
        return ZERO
    if kind == CouponKind.AMOUNT:
        return min(money(value), order_total)
    if kind == CouponKind.PERCENT:
        return min(money(order_total * Decimal(value) / 100), order_total)
    return ZERO


def _expiry(template: CouponTemplate, issued_at: datetime.datetime) -> datetime.datetime | None:
    candidates = []
    if template.valid_days:
        candidates.append(issued_at + datetime.timedelta(days=template.valid_days))
    if template.valid_until:
        candidates.append(template.valid_until)
    return min(candidates) if candidates else None


@transaction.atomic
def issue_coupon(
    *,
    template: CouponTemplate,
    member: Member,
    source: str,
    actor=None,
    redemption=None,
    reason: str = "",
) -> Coupon:
    """Issue one coupon of `template` to `member` (`reason`: why, when staff issue it by hand).

    Refused (CouponTemplateUnavailable) for an inactive template or one whose end date has passed,
    and (CouponLimitReached) when the member already holds the template's limit of coupons (void
    ones do not count). The member's row lock serialises issues to one member, so two at once
    cannot both take the last place under the limit. Campaigns and partners call this too.
    """
    member = lock_objects.member_for_update(member.pk)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    template = CouponTemplate.objects.get(pk=template.pk)  # the current row, not a stale copy
    now = timezone.now()
    if not template.is_active:
        raise CouponTemplateUnavailable(_("The coupon “%(name)s” is not active.") % {"name": template.name})
    if template.valid_until and template.valid_until <= now:
        raise CouponTemplateUnavailable(_("The coupon “%(name)s” has ended.") % {"name": template.name})
    if template.per_member_limit:
        held = Coupon.objects.holding().filter(member=member, template=template).count()
        if held >= template.per_member_limit:
            raise CouponLimitReached(
                _("Member %(member_no)s already has %(count)d of the coupon “%(name)s” (limit %(limit)d).")
                % {
                    "member_no": member.member_no,
                    "count": held,
                    "name": template.name,
                    "limit": template.per_member_limit,
                }
            )
    coupon = Coupon(
        template=template,
        member=member,
        kind=template.kind,
        value=template.value,
        min_spend=template.min_spend,
        source=source,
        redemption=redemption,
        issued_at=now,
        starts_at=template.valid_from if template.valid_from and template.valid_from > now else None,
        expires_at=_expiry(template, now),
        issued_by=real_actor(actor),
        issue_reason=(reason or "").strip()[:200],
    )
    for _attempt in range(5):
        coupon.code = generate_code()
        try:
            with transaction.atomic():
                coupon.save(force_insert=True)
            return coupon
        except IntegrityError:
            coupon.pk = None  # a code collision (about 1 in 10¹⁷): draw again
    raise RuntimeError("Could not draw a free coupon code in 5 attempts.")


@dataclass(frozen=True)
class CouponCheck:
    valid: bool
    discount: Decimal
    reason: str  # "" when valid; else one of CouponInvalid's reasons
    detail: str
    coupon: Coupon | None = None

    @property
    def free_delivery(self) -> bool:
        return self.valid and self.coupon is not None and self.coupon.kind == CouponKind.FREE_DELIVERY


def _refusal(coupon: Coupon | None, *, member: Member, order_total: Decimal | None, now) -> tuple[str, str]:
    """(reason, detail) why the coupon cannot be used now, or ("", "") when it can."""
    if coupon is None:
        return "unknown", _("No coupon has this code.")
    if coupon.member_id != member.pk:
        return "not_yours", _("This coupon belongs to another member.")
    if coupon.status == Coupon.Status.REDEEMED:
        return "used", _("This coupon was already used (order %(ref)s).") % {"ref": coupon.redeemed_ref or "—"}
    if coupon.status == Coupon.Status.VOID:
        return "void", _("This coupon was voided.")
    if coupon.expires_at and coupon.expires_at <= now:
        return "expired", _("This coupon expired on %(date)s.") % {
            "date": timezone.localtime(coupon.expires_at).strftime("%Y-%m-%d %H:%M")
        }
    if coupon.starts_at and coupon.starts_at > now:
        return "not_yet_valid", _("This coupon can be used from %(date)s.") % {
            "date": timezone.localtime(coupon.starts_at).strftime("%Y-%m-%d %H:%M")
        }
    if order_total is not None and money(order_total) < coupon.min_spend:
        return "below_min_spend", _("This coupon needs an order of at least ¥%(min)s.") % {"min": coupon.min_spend}
    return "", ""


def validate_coupon(*, code: str, member: Member, order_total: Decimal) -> CouponCheck:
    """Whether `member` may use `code` on an order of `order_total` now, and the discount. No writes."""
    coupon = Coupon.objects.filter(code=normalise_code(code)).first()
    reason, detail = _refusal(coupon, member=member, order_total=order_total, now=timezone.now())
    if reason:
        return CouponCheck(valid=False, discount=ZERO, reason=reason, detail=detail, coupon=coupon)
    discount = coupon_discount(kind=coupon.kind, value=coupon.value, order_total=order_total)
    return CouponCheck(valid=True, discount=discount, reason="", detail="", coupon=coupon)


@dataclass(frozen=True)
class CouponUse:
    coupon: Coupon
    created: bool  # False when this answers a retry of the same use


@transaction.atomic
def redeem_coupon(
    *, code: str, member: Member, external_ref: str, order_total: Decimal | None = None, actor=None
) -> CouponUse:
    """Mark the coupon used on order `external_ref`, under the coupon's row lock.

    Raises CouponInvalid (with `reason`) for an unknown code, another member's coupon, a used,
    void, expired or not-yet-valid one, or (when `order_total` is given) an order below its
    minimum spend. The same member and order reference again answer the first use (created False).
    """
    external_ref = (external_ref or "").strip()
    coupon = lock_objects.coupon_for_update(normalise_code(code))
    if (
        coupon is not None
        and coupon.status == Coupon.Status.REDEEMED
        and coupon.member_id == member.pk
        and coupon.redeemed_ref == external_ref
    ):
        return CouponUse(coupon=coupon, created=False)
    now = timezone.now()
    reason, detail = _refusal(coupon, member=member, order_total=order_total, now=now)
    if reason:
        raise CouponInvalid(detail, reason=reason)
    coupon.status = Coupon.Status.REDEEMED
    coupon.redeemed_at = now
    coupon.redeemed_ref = external_ref
    coupon.save(update_fields=["status", "redeemed_at", "redeemed_ref"])
    return CouponUse(coupon=coupon, created=True)


def void_locked_coupon(coupon: Coupon, *, reason: str = "", reason_code: str = "") -> None:
    """Void a coupon the caller has locked. A used coupon cannot be voided (CouponUsed).

    Code says why with `reason_code` (`Coupon.VoidReason`, rendered when read); `reason` is what a
    person typed."""
    if coupon.status == Coupon.Status.VOID:
        return
    if coupon.status == Coupon.Status.REDEEMED:
        raise CouponUsed(
            _("The coupon %(code)s was already used (order %(ref)s).")
            % {"code": coupon.code, "ref": coupon.redeemed_ref}
        )
    coupon.status = Coupon.Status.VOID
    coupon.voided_at = timezone.now()
    coupon.void_reason_code = reason_code
    coupon.void_reason = (reason or "")[:200]
    coupon.save(update_fields=["status", "voided_at", "void_reason_code", "void_reason"])


@transaction.atomic
def void_coupon(*, coupon: Coupon, reason: str = "", reason_code: str = "", actor=None) -> Coupon:
    """Void an issued coupon (voiding a void one changes nothing; a used one raises CouponUsed)."""
    locked = lock_objects.coupon_for_update(coupon.code)
    void_locked_coupon(locked, reason=reason, reason_code=reason_code)
    return locked
