"""Input of the till's pages: the basket as the page sends it, checked before any service runs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import Member, PaymentMethod, Product
from members.selectors import till_product_by_sku
from members.services import PurchaseLine
from rewards.services.checkout import STORED_VALUE, Tender, stored_value_asked
from rewards.services.stored_value import TOP_UP_PAYMENT_CHOICES

OVERRIDE_PRICE = "rewards.override_till_price"
MAX_LINES = 100
MAX_QUANTITY = 9999
MAX_POINTS = 100_000_000
MONEY = Decimal("0.01")
TILL_KEY = re.compile(r"^TILL-[0-9a-f]{32}$")
TOP_UP_KEY = re.compile(r"^TOPUP-[0-9a-f]{32}$")


class PriceOverrideRefused(Exception):
    """A line asks for a price other than the catalogue's and the user may not override prices."""


@dataclass(frozen=True)
class TillLine:
    product: Product
    quantity: int
    unit_price: Decimal
    discount: Decimal
    price_overridden: bool

    def as_purchase_line(self) -> PurchaseLine:
        return PurchaseLine(
            sku=self.product.sku,
            name=self.product.name,
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount=self.discount,
        )


@dataclass(frozen=True)
class Basket:
    member: Member | None  # None: a walk-in customer
    lines: list[TillLine]
    coupon_code: str
    points_to_use: int
    # The stored value to pay; None when the page sent none (then the quote reads no balance).
    stored_value: Decimal | None = None

    @property
    def items(self) -> list[PurchaseLine]:
        return [line.as_purchase_line() for line in self.lines]

    @property
    def tenders(self) -> list[Tender] | None:
        """The tenders for `quote_checkout` / `post_purchase`: given (even at 0) for a member whenever
        the page sent the stored-value box, so the quote shows the balance."""
        if self.member is None or self.stored_value is None:
            return None
        return [Tender(STORED_VALUE, self.stored_value)] if self.stored_value else []


def _money(value, *, line: int, label: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(MONEY)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("99999999"):
        raise ValidationError(
            _("Line %(line)d: the %(field)s “%(value)s” is not an amount of 0 or more.")
            % {"line": line, "field": label, "value": value}
        )
    return amount


def _member(member_no) -> Member | None:
    member_no = str(member_no or "").strip().upper()
    if not member_no:
        return None
    member = Member.objects.filter(member_no=member_no).first()
    if member is None or member.is_erased:
        raise ValidationError(_("No member has the number %(member_no)s.") % {"member_no": member_no})
    return member


def _points(value) -> int:
    if value in (None, ""):
        return 0
    try:
        points = int(str(value).strip())
    except ValueError:
        raise ValidationError(_("Points to use must be a whole number of 0 or more.")) from None
    if points < 0 or points > MAX_POINTS:
        raise ValidationError(_("Points to use must be a whole number of 0 or more."))
    return points


def parse_basket(data: dict, *, user, walk_in_allowed: bool = True) -> Basket:
    """The basket the page sent (member number or walk-in, lines by SKU, coupon, points), checked.

    Prices are the catalogue's; a line may carry another `unit_price` only for users holding
    `rewards.override_till_price` (else PriceOverrideRefused). Raises ValidationError with a
    message for staff on any other bad input. Two queries at most (the member, the products).
    """
    if not isinstance(data, dict):
        raise ValidationError(_("The basket could not be read; reload the page."))
    member = _member(data.get("member_no"))
    if member is None and not (walk_in_allowed and data.get("walk_in")):
        raise ValidationError(_("Choose a member or a walk-in customer first."))
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ValidationError(_("The basket is empty: scan or search a product."))
    if len(raw_lines) > MAX_LINES:
        raise ValidationError(_("A sale has at most %(max)d lines.") % {"max": MAX_LINES})
    if not all(isinstance(line, dict) for line in raw_lines):
        raise ValidationError(_("The basket could not be read; reload the page."))
    products = till_product_by_sku([str(line.get("sku") or "") for line in raw_lines])
    may_override = user.has_perm(OVERRIDE_PRICE)
    lines = []
    for index, raw in enumerate(raw_lines, start=1):
        sku = str(raw.get("sku") or "")
        product = products.get(sku)
        if product is None:
            raise ValidationError(
                _("Line %(line)d: no active product has the SKU “%(sku)s”.") % {"line": index, "sku": sku}
            )
        try:
            quantity = int(str(raw.get("quantity", 1)).strip())
        except ValueError:
            quantity = 0
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValidationError(
                _("Line %(line)d: the quantity must be a whole number from 1 to %(max)d.")
                % {"line": index, "max": MAX_QUANTITY}
            )
        discount = _money(raw.get("discount") or 0, line=index, label=_("discount"))
        unit_price = product.unit_price
        overridden = False
        asked = raw.get("unit_price")
        if asked not in (None, ""):
            asked = _money(asked, line=index, label=_("unit price"))
            if asked != product.unit_price:
                if not may_override:
                    raise PriceOverrideRefused(
                        _("Line %(line)d: you may not change the catalogue price of %(sku)s.")
                        % {"line": index, "sku": sku}
                    )
                unit_price, overridden = asked, True
        if discount > unit_price * quantity:
            raise ValidationError(_("Line %(line)d: the discount exceeds the line amount.") % {"line": index})
        lines.append(
            TillLine(
                product=product,
                quantity=quantity,
                unit_price=unit_price,
                discount=discount,
                price_overridden=overridden,
            )
        )
    coupon_code = str(data.get("coupon_code") or "").strip()[:64]
    points = _points(data.get("points_to_use"))
    stored_value = _stored_value(data.get("stored_value"))
    if member is None and (coupon_code or points or stored_value):
        # The quote says why for a walk-in; posting would refuse it too.
        points, stored_value = 0, None
    return Basket(member=member, lines=lines, coupon_code=coupon_code, points_to_use=points, stored_value=stored_value)


def _stored_value(value) -> Decimal | None:
    """The stored-value box: absent → None; empty → 0; else an amount (checked by the checkout's
    own tender check, so the till and the API refuse the same amounts in the same words)."""
    if value is None:
        return None
    if str(value).strip() == "":
        return Decimal("0.00")
    try:
        return stored_value_asked([{"kind": STORED_VALUE, "amount": str(value).strip()}])
    except ValidationError as error:
        raise ValidationError(" ".join(error.messages)) from None


def basket_from_json(text: str) -> dict:
    try:
        data = json.loads(text or "")
    except (TypeError, ValueError):
        raise ValidationError(_("The basket could not be read; reload the page.")) from None
    if not isinstance(data, dict):
        raise ValidationError(_("The basket could not be read; reload the page."))
    return data


class ConfirmForm(forms.Form):
    """The confirm button's form: the idempotency key drawn with the page, the basket as JSON."""

    key = forms.RegexField(regex=TILL_KEY, widget=forms.HiddenInput)
    basket = forms.CharField(widget=forms.HiddenInput, max_length=200_000)
    payment_method = forms.ChoiceField(
        label=gettext_lazy("Payment method"), choices=PaymentMethod.choices, initial=PaymentMethod.WECHAT_PAY
    )


class TopUpForm(forms.Form):
    """A top-up at the till: the key drawn with the page, the member, the amount taken outside the
    system, how it was paid and the rule chosen (optional)."""

    key = forms.RegexField(regex=TOP_UP_KEY)
    member_no = forms.CharField(max_length=16)
    amount = forms.DecimalField(label=gettext_lazy("Amount paid (¥)"), max_digits=12, decimal_places=2)
    payment_method = forms.ChoiceField(label=gettext_lazy("Paid by"), choices=TOP_UP_PAYMENT_CHOICES)
    rule = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class PartnerCodeForm(forms.Form):
    key = forms.RegexField(regex=TILL_KEY)
    member_no = forms.CharField(max_length=16)
    code = forms.CharField(max_length=64)


class ReturnForm(forms.Form):
    """A return: the key drawn with the page, and per purchase line the quantity brought back."""

    key = forms.RegexField(regex=re.compile(r"^RET-[0-9a-f]{32}$"), widget=forms.HiddenInput)


class RefundWithoutGoodsForm(forms.Form):
    """A manager's refund of an amount without goods: the amount and a reason, both required."""

    key = forms.RegexField(regex=re.compile(r"^RET-[0-9a-f]{32}$"), widget=forms.HiddenInput)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount to refund (CNY)"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)
