"""The till's pages: checkout, its JSON helpers (lookup, products, scan, quote, partner code),
the receipt and returns. Thin: each view checks the permission and the input, calls one service or
selector and renders it. The page's script never computes money: every figure is the quote's."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty_crm.errors import DomainError
from members.models import Member, Purchase, PurchaseItem
from members.selectors import till_lookup, till_products
from rewards import selectors, selectors_care_plans, selectors_stored_value
from rewards.models import Coupon, TopUpRule
from rewards.services import checkout as checkout_services
from rewards.services import coupons as coupon_services
from rewards.services import refund_purchase, stored_value
from rewards.services.refunds import quote_return
from rewards.services.till_checkout import checkout_sale
from rewards.till import care_plans as till_care_plans
from rewards.till import codes
from rewards.till.forms import (
    ConfirmForm,
    PartnerCodeForm,
    PriceOverrideRefused,
    RefundWithoutGoodsForm,
    ReturnForm,
    TopUpForm,
    basket_from_json,
    parse_basket,
)

USE_TILL = "rewards.add_purchaseposting"
RETURN_GOODS = "rewards.add_purchaserefund"
REFUND_WITHOUT_GOODS = "rewards.refund_without_goods"
OVERRIDE_PRICE = "rewards.override_till_price"
TOP_UP = "rewards.top_up_stored_value"
PAY_STORED_VALUE = "rewards.pay_stored_value"
SELL_CARE_PLAN = "rewards.add_careplansale"
MAX_BODY = 200_000


def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _money(value) -> str:
    return f"{Decimal(value or 0):.2f}"


def _tier(tier) -> dict | None:
    return {"code": tier.code, "name": tier.display_name} if tier is not None else None


def _json_body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ValidationError(_("The basket could not be read; reload the page."))
    return basket_from_json(request.body.decode("utf-8", errors="replace"))


def _error(message: str, *, status: int = 400, code: str = "invalid") -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def _messages_of(error: ValidationError) -> str:
    return " ".join(error.messages)


def _store(user):
    profile = getattr(user, "staff_profile", None)
    return profile.store if profile is not None else None


def _admin_context(request, title: str) -> dict:
    from django.contrib import admin

    request.current_app = admin.site.name
    return {**admin.site.each_context(request), "title": title}


def _page_strings() -> dict:
    """The words the page's script shows, translated here (the script holds no text)."""
    return {
        "walk_in": _("Walk-in customer"),
        "no_member": _("No member found. Check the number, or choose walk-in customer."),
        "pick_member": _("Several members match: pick one."),
        "no_product": _("No product found."),
        "unknown_code": _("The scanned code is not a member, a product or a coupon."),
        "remove": _("Remove"),
        "points_balance": _("Balance"),
        "last_visit": _("Last visit"),
        "never": _("never"),
        "coupon_ok": _("Coupon applied"),
        "coupon_refused": _("Coupon not applied"),
        "free_delivery": _("Free delivery"),
        "tier_reached": _("Upgraded to %(tier)s"),
        "points_max": _("At most %(points)s points on this basket"),
        "quote_failed": _("The total could not be worked out."),
        "partner_ok": _("Partner code accepted: coupon %(code)s applied."),
        "stored_value_balance": _("Stored value: ¥%(balance)s"),
        "no_rule": _("No rule (no bonus)"),
        "rule_label": _("%(name)s (from ¥%(pay)s: +¥%(bonus)s)"),
        "top_up_failed": _("The top-up could not be recorded."),
        "care_plan_offer": _("%(plan)s for %(product)s: ¥%(price)s"),
        "yes": _("yes"),
        "no": _("no"),
    }


def _member_json(candidate) -> dict:
    return {
        "member_no": candidate.member_no,
        "name": candidate.name,
        "phone": candidate.phone,
        "tier": candidate.tier,
        "points_balance": candidate.points_balance,
        "last_visit": date_format(timezone.localtime(candidate.last_visit), "SHORT_DATE_FORMAT")
        if candidate.last_visit
        else "",
    }


def _product_json(product) -> dict:
    return {"sku": product.sku, "name": product.name, "unit_price": _money(product.unit_price)}


# --- the checkout page ------------------------------------------------------------------------


def till_view(request, *, form: ConfirmForm | None = None, error: str = "", basket: str = "", status: int = 200):
    """The checkout page. Its idempotency key is drawn here, once per page: the sale it confirms is
    recorded once, however often the button is pressed or the request retried."""
    _require(request, USE_TILL)
    initial_member = None
    member_no = (request.GET.get("member") or "").strip()
    if member_no and not basket:
        lookup = till_lookup(member_no)
        if lookup.matched_by == "member_no" and lookup.candidates:
            initial_member = _member_json(lookup.candidates[0])
    if form is None:
        form = ConfirmForm(initial={"key": f"TILL-{uuid.uuid4().hex}"})
    context = {
        **_admin_context(request, _("Till")),
        "form": form,
        "error": error,
        "basket_json": basket,
        "initial_member": initial_member,
        "strings": _page_strings(),
        "may_override_price": request.user.has_perm(OVERRIDE_PRICE),
        "may_top_up": request.user.has_perm(TOP_UP),
        "may_pay_stored_value": request.user.has_perm(PAY_STORED_VALUE),
        "top_up_key": f"TOPUP-{uuid.uuid4().hex}",
        "top_up_methods": stored_value.TOP_UP_PAYMENT_CHOICES,
        "urls": {
            "top_up": reverse("admin:till_top_up"),
            "lookup": reverse("admin:till_lookup"),
            "products": reverse("admin:till_products"),
            "scan": reverse("admin:till_scan"),
            "quote": reverse("admin:till_quote"),
            "partner_code": reverse("admin:till_partner_code"),
        },
    }
    return TemplateResponse(request, "rewards/till/till.html", context, status=status)


@require_GET
def lookup_view(request):
    """Members for the member box: number, phone, last four digits, or name (a pick list)."""
    _require(request, USE_TILL)
    lookup = till_lookup(request.GET.get("q", "")[:64])
    return JsonResponse(
        {"matched_by": lookup.matched_by, "members": [_member_json(candidate) for candidate in lookup.candidates]}
    )


@require_GET
def products_view(request):
    """Products for the product box: SKU, name, or pinyin initials."""
    _require(request, USE_TILL)
    return JsonResponse(
        {"products": [_product_json(product) for product in till_products(request.GET.get("q", "")[:64])]}
    )


@require_GET
def scan_view(request):
    """What a scanned code is: a member card (member number), a product (SKU) or a coupon."""
    _require(request, USE_TILL)
    code = (request.GET.get("code") or "").strip()[:64]
    if not code:
        return _error(_("Nothing was scanned."))
    member = Member.objects.not_erased().filter(member_no=code.upper()).values_list("member_no", flat=True).first()
    if member:
        lookup = till_lookup(member)
        return JsonResponse({"kind": "member", "member": _member_json(lookup.candidates[0])})
    products = [product for product in till_products(code, limit=1) if product.sku.lower() == code.lower()]
    if products:
        return JsonResponse({"kind": "product", "product": _product_json(products[0])})
    if Coupon.objects.filter(code=coupon_services.normalise_code(code)).exists():
        return JsonResponse({"kind": "coupon", "code": coupon_services.normalise_code(code)})
    return JsonResponse({"kind": "unknown"})


def _quote_json(basket, quote) -> dict:
    coupon = None
    if quote.coupon is not None:
        coupon = {
            "code": coupon_services.normalise_code(basket.coupon_code),
            "valid": quote.coupon.valid,
            "reason": quote.coupon.reason,
            "detail": quote.coupon.detail,
        }
    tier_after = quote.tier_after
    return {
        "lines": [
            {
                "sku": line.product.sku,
                "name": line.product.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "catalogue_price": _money(line.product.unit_price),
                "discount": _money(line.discount),
                "line_total": _money(line.unit_price * line.quantity - line.discount),
                "price_overridden": line.price_overridden,
            }
            for line in basket.lines
        ],
        "subtotal": _money(quote.subtotal),
        "tier": _tier(quote.tier),
        "tier_discount": _money(quote.tier_discount),
        "coupon": coupon,
        "coupon_discount": _money(quote.coupon_discount),
        "total": _money(quote.total),
        "points_balance": quote.points_balance,
        "points_max": quote.points_max,
        "points_used": quote.points_used,
        "points_value": _money(quote.points_value),
        "points_message": quote.points_message,
        "amount_due": _money(quote.amount_due),
        "points_to_earn": quote.points_to_earn,
        "tier_after": _tier(tier_after),
        "tier_upgrade": bool(tier_after is not None and quote.tier is not None and tier_after.pk != quote.tier.pk),
        "free_delivery": quote.free_delivery,
        "stored_value_balance": None if quote.stored_value_balance is None else _money(quote.stored_value_balance),
        "stored_value_used": _money(quote.stored_value_used),
        "stored_value_message": quote.stored_value_message,
    }


@require_POST
def quote_view(request):
    """The basket priced by `quote_checkout` — the one computation of every figure on the page."""
    _require(request, USE_TILL)
    try:
        data = _json_body(request)
        basket = parse_basket(data, user=request.user)
    except PriceOverrideRefused as refused:
        return _error(str(refused), status=403, code="price_override_refused")
    except ValidationError as error:
        return _error(_messages_of(error))
    quote = checkout_services.quote_checkout(
        member=basket.member,
        items=basket.items,
        coupon_code=basket.coupon_code or None,
        points_to_use=basket.points_to_use,
        tenders=basket.tenders,
    )
    try:
        care_plans = till_care_plans.quote_json(data, basket, quote)
    except ValidationError as error:
        return _error(_messages_of(error))
    return JsonResponse({**_quote_json(basket, quote), **care_plans})


@require_POST
def confirm_view(request):
    """Record the sale and its care plans through `checkout_sale` (member pricing, coupon, points
    and the plans in one transaction), on the page's key; then the receipt. A refusal re-shows the page with the
    basket and the reason; nothing is recorded."""
    _require(request, USE_TILL)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("The sale could not be read; reload the till."))
    key = form.cleaned_data["key"]
    done = Purchase.objects.filter(external_ref=key).values_list("pk", flat=True).first()
    if done:  # a second press or a retry of a sale already recorded
        return redirect("admin:till_receipt", done)
    raw = form.cleaned_data["basket"]
    try:
        data = basket_from_json(raw)
        basket = parse_basket(data, user=request.user)
        care_plans = till_care_plans.chosen(data, basket)
    except PriceOverrideRefused as refused:
        return till_view(request, form=form, error=str(refused), basket=raw, status=403)
    except ValidationError as error:
        return till_view(request, form=form, error=_messages_of(error), basket=raw, status=400)
    if basket.stored_value and not request.user.has_perm(PAY_STORED_VALUE):
        return till_view(
            request,
            form=form,
            error=_("You may not take payment from a member's stored value."),
            basket=raw,
            status=403,
        )
    if care_plans and not request.user.has_perm(SELL_CARE_PLAN):
        return till_view(request, form=form, error=_("You may not sell care plans."), basket=raw, status=403)
    try:
        # The sale and its care plans, all or nothing, on the page's key.
        result = checkout_sale(
            member=basket.member,
            key=key,
            ordered_at=timezone.now(),  # the key was looked up above: a new sale
            items=basket.items,
            store=_store(request.user),
            payment_method=form.cleaned_data["payment_method"],
            coupon_code=basket.coupon_code or None,
            points_to_use=basket.points_to_use,
            tenders=basket.tenders,
            care_plans=care_plans,
            actor=request.user,
        )
    except ValidationError as error:
        return till_view(request, form=form, error=_messages_of(error), basket=raw, status=400)
    except DomainError as error:
        done = Purchase.objects.filter(external_ref=key).values_list("pk", flat=True).first()
        if done:  # the same key posted meanwhile by the first press
            return redirect("admin:till_receipt", done)
        return till_view(request, form=form, error=error.detail, basket=raw, status=409)
    return redirect("admin:till_receipt", result.purchase.pk)


@require_POST
def partner_code_view(request):
    """Accept a partner's code for the member at the counter: it becomes their coupon, which the
    page then applies to this sale (the sale's key is the code's order reference)."""
    _require(request, USE_TILL)
    _require(request, "rewards.redeem_coupon")
    from campaigns.services.partners import accept_partner_code

    form = PartnerCodeForm(request.POST)
    if not form.is_valid():
        return _error(_("Choose a member and type the partner's code."))
    member = Member.objects.not_erased().filter(member_no=form.cleaned_data["member_no"].upper()).first()
    if member is None:
        return _error(_("Partner codes are accepted for members only."))
    try:
        use = accept_partner_code(
            code=form.cleaned_data["code"], member=member, external_ref=form.cleaned_data["key"], actor=request.user
        )
    except ValidationError as error:
        return _error(_messages_of(error))
    except DomainError as error:
        return _error(error.detail, status=409, code=error.code)
    return JsonResponse({"coupon_code": use.coupon.code})


def _till_member(member_no) -> Member | None:
    member_no = str(member_no or "").strip().upper()[:16]
    return Member.objects.not_erased().filter(member_no=member_no).first() if member_no else None


@require_http_methods(["GET", "POST"])
def top_up_view(request):
    """Top up the chosen member's stored value at the counter, through `stored_value.top_up`.

    GET `?member_no=&amount=`: the rules a top-up of that amount may use today
    (`applicable_rules`). POST: the top-up, once per key drawn with the page (a retry answers the
    first top-up); the answer carries the new balance and a fresh key for the next top-up."""
    _require(request, USE_TILL)
    _require(request, TOP_UP)
    if request.method == "GET":
        member = _till_member(request.GET.get("member_no"))
        if member is None:
            return _error(_("Choose a member first."))
        try:
            amount = Decimal(request.GET.get("amount") or "0")
        except ArithmeticError:
            amount = Decimal("0")
        if not amount.is_finite() or amount <= 0:
            return JsonResponse({"rules": []})
        rules = selectors_stored_value.applicable_rules(member, amount)
        return JsonResponse(
            {
                "rules": [
                    {
                        "id": rule.pk,
                        "name": rule.name,
                        "pay": _money(rule.pay_amount),
                        "bonus": _money(rule.bonus_amount),
                    }
                    for rule in rules
                ]
            }
        )
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return _error(" ".join(str(message) for errors in form.errors.values() for message in errors))
    member = _till_member(form.cleaned_data["member_no"])
    if member is None:
        return _error(_("Choose a member first."))
    rule = None
    if form.cleaned_data["rule"]:
        rule = TopUpRule.objects.filter(pk=form.cleaned_data["rule"]).first()
        if rule is None:
            return _error(_("This top-up rule no longer exists; choose another."))
    try:
        result = stored_value.top_up(
            member=member,
            amount=form.cleaned_data["amount"],
            external_ref=form.cleaned_data["key"],
            payment_method=form.cleaned_data["payment_method"],
            rule=rule,
            store=_store(request.user),
            actor=request.user,
        )
    except ValidationError as error:
        return _error(_messages_of(error))
    except DomainError as error:
        return _error(error.detail, status=409, code=error.code)
    return JsonResponse(
        {
            "message": _("Topped up ¥%(amount)s (bonus ¥%(bonus)s); the stored value is now ¥%(total)s.")
            % {
                "amount": _money(result.top_up.amount),
                "bonus": _money(result.top_up.bonus),
                "total": _money(result.total),
            },
            "stored_value_balance": _money(result.total),
            "created": result.created,
            "next_key": f"TOPUP-{uuid.uuid4().hex}",
        },
        status=201 if result.created else 200,
    )


# --- the receipt ------------------------------------------------------------------------------


def receipt_view(request, purchase_id: int):
    """The receipt of one sale (from `receipt_for`); `?print=1` is the 80 mm thermal print view."""
    _require(request, USE_TILL)
    purchase = get_object_or_404(Purchase.objects.select_related("member", "store"), pk=purchase_id)
    receipt = selectors.receipt_for(purchase)
    join_qr = ""
    if receipt.join_url:
        receipt_join_url = request.build_absolute_uri(receipt.join_url)
        join_qr = codes.qr_svg(receipt_join_url)
    context = {
        **_admin_context(request, _("Receipt %(ref)s") % {"ref": purchase.external_ref}),
        "receipt": receipt,
        "purchase": purchase,
        "barcode": codes.code128_svg(purchase.external_ref),
        "join_qr": join_qr,
        "printing": request.GET.get("print") == "1",
        "care_plans": selectors_care_plans.sales_of_purchase(purchase),
    }
    template = "rewards/till/receipt_print.html" if context["printing"] else "rewards/till/receipt.html"
    return TemplateResponse(request, template, context)


# --- returns ----------------------------------------------------------------------------------


def _purchase_for_return(purchase_id: int) -> Purchase:
    return get_object_or_404(
        Purchase.objects.select_related("member", "store").prefetch_related(
            Prefetch("items", queryset=PurchaseItem.objects.order_by("id"))
        ),
        pk=purchase_id,
    )


def _return_lines(purchase: Purchase, data) -> list[tuple[int, int]]:
    """(item id, quantity) for every line with a quantity above 0; ValidationError on nonsense."""
    lines = []
    for item in purchase.items.all():
        raw = (data.get(f"qty-{item.pk}") or "0").strip()
        try:
            quantity = int(raw)
        except ValueError:
            raise ValidationError(_("%(sku)s: the quantity must be a whole number.") % {"sku": item.sku}) from None
        left = item.quantity - item.returned_quantity
        if quantity < 0 or quantity > left:
            raise ValidationError(
                _("%(sku)s: at most %(left)d can still be returned.") % {"sku": item.sku, "left": left}
            )
        if quantity:
            lines.append((item.pk, quantity))
    if not lines:
        raise ValidationError(_("Choose at least one line and quantity to return."))
    return lines


def _returnable_lines(purchase: Purchase) -> list[dict]:
    return [
        {
            "item_id": item.pk,
            "sku": item.sku,
            "name": item.name,
            "quantity": item.quantity,
            "returned_quantity": item.returned_quantity,
            "returnable": item.quantity - item.returned_quantity,
            "line_total": item.line_total,
        }
        for item in purchase.items.all()
    ]


def _find_purchases(term: str):
    """Purchases for the returns search: a receipt number (typed or scanned) or a member."""
    term = (term or "").strip()[:64]
    if not term:
        return []
    purchases = Purchase.objects.select_related("member", "store").order_by("-ordered_at", "-id")
    by_ref = list(purchases.filter(external_ref=term)[:1])
    if by_ref:
        return by_ref
    lookup = till_lookup(term)
    numbers = [candidate.member_no for candidate in lookup.candidates]
    if not numbers:
        return []
    return list(purchases.filter(member__member_no__in=numbers)[:20])


def returns_view(request):
    """Find a purchase (receipt number, scanned barcode or member), then pick what comes back."""
    _require(request, RETURN_GOODS)
    term = request.GET.get("q", "")
    purchase_id = request.GET.get("purchase", "")
    purchase = None
    found = []
    if purchase_id.isdigit():
        purchase = _purchase_for_return(int(purchase_id))
    else:
        found = _find_purchases(term)
        if len(found) == 1 and term.strip() == found[0].external_ref:
            return redirect(f"{reverse('admin:till_returns')}?purchase={found[0].pk}")
    return _returns_page(request, term=term, found=found, purchase=purchase)


def _returns_page(request, *, term="", found=(), purchase=None, error="", form=None, refund_form=None, status=200):
    key = f"RET-{uuid.uuid4().hex}"
    context = {
        **_admin_context(request, _("Returns")),
        "term": term,
        "searched": bool(term.strip()),
        "found": found,
        "purchase": purchase,
        "receipt": selectors.receipt_for(purchase) if purchase is not None else None,
        "return_lines": _returnable_lines(purchase) if purchase is not None else [],
        "error": error,
        "form": form or ReturnForm(initial={"key": key}),
        "refund_form": refund_form or RefundWithoutGoodsForm(initial={"key": f"RET-{uuid.uuid4().hex}"}),
        "may_refund_without_goods": request.user.has_perm(REFUND_WITHOUT_GOODS),
        "quote_url": reverse("admin:till_return_quote", args=[purchase.pk]) if purchase is not None else "",
        "strings": {"quote_failed": _("The refund could not be worked out.")},
    }
    return TemplateResponse(request, "rewards/till/returns.html", context, status=status)


@require_POST
def return_quote_view(request, purchase_id: int):
    """What the chosen lines give back (`quote_return`): money, points back, points reversed, tier."""
    _require(request, RETURN_GOODS)
    purchase = _purchase_for_return(purchase_id)
    try:
        lines = _return_lines(purchase, request.POST)
    except ValidationError as error:
        return _error(_messages_of(error))
    try:
        quote = quote_return(purchase=purchase, lines=lines)
    except ValidationError as error:
        return _error(_messages_of(error))
    except DomainError as error:
        return _error(error.detail, status=409, code=error.code)
    return JsonResponse(
        {
            "money_back": _money(quote.money_back),
            "stored_value_back": _money(quote.stored_value_back),
            "points_back": quote.points_back,
            "points_reversed": quote.points_reversed,
            "tier": _tier(quote.tier),
            "tier_after": _tier(quote.tier_after),
            "tier_changes": bool(
                quote.tier_after is not None and quote.tier is not None and quote.tier_after != quote.tier
            ),
        }
    )


@require_POST
def return_confirm_view(request, purchase_id: int):
    """Refund the chosen lines through `refund_purchase`, once per key drawn with the page."""
    _require(request, RETURN_GOODS)
    purchase = _purchase_for_return(purchase_id)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("The return could not be read; reload the page."))
    try:
        lines = _return_lines(purchase, request.POST)
        result = refund_purchase(
            purchase=purchase, external_ref=form.cleaned_data["key"], lines=lines, actor=request.user
        )
    except ValidationError as error:
        return _returns_page(request, purchase=purchase, error=_messages_of(error), status=400)
    except DomainError as error:
        return _returns_page(request, purchase=purchase, error=error.detail, status=409)
    messages.success(request, _refund_message(result))
    return redirect(f"{reverse('admin:till_returns')}?purchase={purchase.pk}")


@require_POST
def refund_without_goods_view(request, purchase_id: int):
    """A manager's refund of an amount without goods back; the reason is required and recorded."""
    _require(request, REFUND_WITHOUT_GOODS)
    purchase = _purchase_for_return(purchase_id)
    refund_form = RefundWithoutGoodsForm(request.POST)
    if not refund_form.is_valid():
        return _returns_page(request, purchase=purchase, refund_form=refund_form, status=400)
    try:
        result = refund_purchase(
            purchase=purchase,
            external_ref=refund_form.cleaned_data["key"],
            amount=refund_form.cleaned_data["amount"],
            reason=refund_form.cleaned_data["reason"],
            actor=request.user,
        )
    except ValidationError as error:
        return _returns_page(request, purchase=purchase, error=_messages_of(error), status=400)
    except DomainError as error:
        return _returns_page(request, purchase=purchase, error=error.detail, status=409)
    messages.success(request, _refund_message(result))
    return redirect(f"{reverse('admin:till_returns')}?purchase={purchase.pk}")


def _refund_message(result) -> str:
    message = _("Refunded ¥%(amount)s; %(points)d points reversed; the balance is now %(balance)d.") % {
        "amount": _money(result.refund.amount),
        "points": result.points_reversed,
        "balance": result.points_balance,
    }
    if result.stored_value_returned:
        message += " " + _("Of it, ¥%(amount)s went back to the stored value.") % {
            "amount": _money(result.stored_value_returned)
        }
    return message
