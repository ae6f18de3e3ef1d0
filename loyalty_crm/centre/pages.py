"""The member centre's own pages (issue 15): the card, points, coupons, rewards and the stored-value
wallet, under /m/. Each view reads the signed-in member's data only (`request.member`), through
`loyalty_crm.centre.selectors_pages`, and changes state only through the rewards services."""

from __future__ import annotations

import re
import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_crm.centre import limits
from loyalty_crm.centre import selectors_pages as data
from loyalty_crm.centre.session import member_required
from loyalty_crm.errors import DomainError
from rewards.errors import (
    GiftUnavailable,
    IdempotencyConflict,
    InsufficientPoints,
    OutOfStock,
    RewardLimitReached,
    RewardUnavailable,
)
from rewards.models import Reward
from rewards.services import redemptions as redemption_services
from rewards.services import stored_value as stored_value_services
from rewards.till.codes import code128_svg, qr_svg

HISTORY_PER_PAGE = 20


def scalable_qr_svg(text: str) -> str:
    """The till's QR code (`qr_svg`) with a viewBox instead of its fixed pixel size, so the page's
    CSS sets its size on the phone (large and sharp in the card view)."""
    svg = qr_svg(text)
    size = re.search(r'width="(\d+)" height="(\d+)"', svg)
    if size is None:
        return svg
    width, height = size.groups()
    return svg.replace(size.group(0), f'viewBox="0 0 {width} {height}" shape-rendering="crispEdges"', 1)


def _codes(text: str) -> dict:
    return {"qr": scalable_qr_svg(text), "barcode": code128_svg(text)}


@member_required
def card(request):
    view = data.overview(request.member, per_page=1)
    return render(request, "centre/card.html", {"tab": "card", "view": view, **_codes(request.member.member_no)})


@member_required
def show_card(request):
    """The card made large for the till's scanner (card.js keeps the screen awake where allowed)."""
    return render(request, "centre/card_show.html", {"tab": "card", **_codes(request.member.member_no)})


@member_required
def points(request):
    view = data.overview(request.member, page=request.GET.get("page", 1), per_page=HISTORY_PER_PAGE)
    return render(
        request,
        "centre/points.html",
        {"tab": "points", "view": view, "rows": data.history_rows(view.ledger_page), "page": view.ledger_page},
    )


@member_required
def coupons(request):
    grouped = data.coupons(request.member)
    offers = data.selectors.member_partner_offers(request.member)
    return render(request, "centre/coupons.html", {"tab": "coupons", "grouped": grouped, "offers": offers})


@member_required
def coupon(request, code: str):
    row = data.coupon(request.member, code)
    if row is None:
        raise Http404(_("No such coupon."))
    context = {"tab": "coupons", "row": row}
    if row.state == "valid":
        context.update(_codes(row.coupon.code))
    return render(request, "centre/coupon.html", context)


@member_required
def rewards(request):
    return render(
        request,
        "centre/rewards.html",
        {"tab": "rewards", "catalogue": data.catalogue(request.member), "key": uuid.uuid4().hex},
    )


def refusal_text(error: Exception, reward: Reward, *, missing: int | None = None) -> str:
    """A redemption refused, in the member's words (never the staff's sentence)."""
    name = reward.name
    if isinstance(error, InsufficientPoints):
        if missing:
            return _("You need %(points)d more points for “%(name)s”.") % {"points": missing, "name": name}
        return _("You do not have enough points for “%(name)s”.") % {"name": name}
    if isinstance(error, OutOfStock):
        return _("Sorry, “%(name)s” is all gone.") % {"name": name}
    if isinstance(error, RewardLimitReached):
        return _("You have already redeemed “%(name)s” as often as allowed.") % {"name": name}
    if isinstance(error, RewardUnavailable):
        return _("“%(name)s” cannot be redeemed at the moment.") % {"name": name}
    if isinstance(error, IdempotencyConflict):
        return _("This form was already used for another reward. Please try again.")
    return _("“%(name)s” could not be redeemed. Please ask at the counter.") % {"name": name}


@member_required
@require_POST
def redeem(request, reward_id: int):
    """Redeem one unit of a reward; the form's key makes a double submit one redemption."""
    reward = get_object_or_404(Reward, pk=reward_id)
    key = (request.POST.get("idempotency_key") or "").strip()
    if not key or len(key) > 64:
        messages.error(request, _("The form has expired. Please try again."))
        return redirect("centre:rewards")
    try:
        result = redemption_services.redeem_reward(
            member=request.member, reward=reward, idempotency_key=data.redemption_key(request.member, key)
        )
    except (DomainError, ValidationError) as error:
        missing = None
        if isinstance(error, InsufficientPoints):
            missing = reward.points_cost - data.selectors.points_summary(request.member, expiring_dates=0).balance
        messages.error(request, refusal_text(error, reward, missing=missing))
        return redirect("centre:rewards")
    if result.redemption.member_id != request.member.pk:
        # The key was another member's: nothing of theirs is shown.
        messages.error(request, _("The form has expired. Please try again."))
        return redirect("centre:rewards")
    return redirect("centre:redemption", redemption_id=result.redemption.pk)


@member_required
def redemption(request, redemption_id: int):
    found = data.redemption(request.member, redemption_id)
    if found is None:
        raise Http404(_("No such redemption."))
    return render(request, "centre/redemption.html", {"tab": "rewards", "redemption": found})


GIFT_ERRORS = {
    "gift_unknown": gettext_lazy("No gift has this code. Please check it and try again."),
    "gift_already_claimed": gettext_lazy("This gift has already been claimed."),
    "gift_not_yours": gettext_lazy("This gift was sent to another phone number."),
}


def claim_text(error: GiftUnavailable) -> str:
    return str(GIFT_ERRORS.get(error.code, _("This gift cannot be claimed.")))


@member_required
@require_http_methods(["GET", "POST"])
def wallet(request):
    member = request.member
    error, limited = "", False
    if request.method == "POST":
        code = (request.POST.get("code") or "").strip()[:64]
        if not code:
            error = _("Enter the gift code.")
        elif limits.gift_claims_retry_after(member.pk):
            error, limited = _("Too many wrong gift codes. Please try again in an hour."), True
        elif data.gift_already_claimed_by(member, code) is not None:
            messages.success(request, _("This gift is already in your balance."))
            return redirect("centre:wallet")
        else:
            try:
                change = stored_value_services.claim_gift(code=code, member=member)
            except GiftUnavailable as refused:
                if refused.code == "gift_already_claimed" and data.gift_already_claimed_by(member, code):
                    messages.success(request, _("This gift is already in your balance."))
                    return redirect("centre:wallet")
                limits.record_gift_claim_refusal(member.pk, refused.code)
                error = claim_text(refused)
            except DomainError:
                error = _("This gift cannot be claimed.")
            else:
                messages.success(
                    request, _("¥%(amount)s has been added to your balance.") % {"amount": change.principal_delta}
                )
                return redirect("centre:wallet")
    view = data.selectors_stored_value.wallet(member, last=0)
    page = data.wallet_page(member, page=request.GET.get("page", 1), per_page=HISTORY_PER_PAGE)
    return render(
        request,
        "centre/wallet.html",
        {"tab": "card", "wallet": view, "rows": data.wallet_rows(page.object_list), "page": page, "error": error},
        status=429 if limited else 400 if error else 200,
    )
