"""The segment form of the admin: rules as fields (checkboxes, lists, dates, an amount), never raw
JSON. The same form answers the live member-count preview."""

from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from campaigns.models import Classification, Segment
from campaigns.segments import RULE_KEYS, validate_rules
from members.models import Category, Product, Store, Tag
from rewards.selectors import tiers

CHANNEL_CHOICES = [
    ("", _("Any (consent not required)")),
    ("email", _("Email")),
    ("sms", _("SMS")),
    ("wechat", _("WeChat")),
]


YES_NO_CHOICES = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
PERCENT = 100


def _values(text: str) -> list[str]:
    """Values typed separated by commas (either kind) or semicolons."""
    for separator in ("，", ";", "；"):
        text = text.replace(separator, ",")
    return [value.strip() for value in text.split(",") if value.strip()]


def _days_field(label, help_text="", high=3650):
    return forms.IntegerField(label=label, min_value=1 if high > 366 else 0, max_value=high, required=False,
                              help_text=help_text)  # fmt: skip


class SegmentRulesForm(forms.Form):
    classification = forms.MultipleChoiceField(
        label=_("Classification"),
        choices=Classification.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("From the last nightly classification. None ticked: any."),
    )
    tiers = forms.MultipleChoiceField(label=_("Tiers"), choices=(), required=False, widget=forms.CheckboxSelectMultiple)
    stores = forms.ModelMultipleChoiceField(
        label=_("Home stores"),
        queryset=Store.objects.order_by("code"),
        to_field_name="code",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Hold Ctrl (Cmd on a Mac) to choose several. None chosen: any."),
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags (any of)"),
        queryset=Tag.objects.order_by("name"),
        to_field_name="name",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    min_spend_12m = forms.DecimalField(
        label=_("Minimum spend in the window"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=_("Net of refunds, over the classification window (12 months by default)."),
    )
    last_purchase_after = forms.DateField(label=_("Last purchase on or after"), required=False, widget=AdminDateWidget)
    last_purchase_before = forms.DateField(
        label=_("Last purchase on or before"), required=False, widget=AdminDateWidget
    )
    birthday_month = forms.TypedMultipleChoiceField(
        label=_("Birthday month"),
        choices=sorted(MONTHS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "segment-months"}),
    )
    consented_channel = forms.ChoiceField(label=_("Marketing consent on"), choices=CHANNEL_CHOICES, required=False)

    # What they bought (counted purchases: not refunded, lines not returned).
    bought_product = forms.ModelChoiceField(
        label=_("Bought the product"), queryset=Product.objects.order_by("sku"), to_field_name="sku", required=False
    )
    bought_product_within_days = _days_field(_("… within the last days"), _("Empty: ever."))
    bought_category = forms.ModelChoiceField(
        label=_("Bought in the category"),
        queryset=Category.objects.order_by("code"),
        to_field_name="code",
        required=False,
        help_text=_("The categories under it count too."),
    )
    bought_category_within_days = _days_field(_("… within the last days"), _("Empty: ever."))
    not_bought_category = forms.ModelChoiceField(
        label=_("Bought in the category before, but not lately"),
        queryset=Category.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )
    not_bought_category_days = _days_field(_("… nothing from it for days"))

    # What they like (their recorded preferences).
    favourite_category = forms.ModelMultipleChoiceField(
        label=_("Favourite category (any of)"),
        queryset=Category.objects.order_by("code"),
        to_field_name="code",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    colour = forms.CharField(label=_("Favourite colour (any of)"), required=False,
                             help_text=_("Separate several with commas, e.g. red, pink."))  # fmt: skip
    style = forms.CharField(label=_("Style (any of)"), required=False,
                            help_text=_("Separate several with commas."))  # fmt: skip
    preferred_channel = forms.CharField(label=_("Preferred channel (any of)"), required=False,
                                        help_text=_("As recorded in the preferences, e.g. WeChat."))  # fmt: skip

    # What the nightly model predicts.
    churn_risk_min = forms.DecimalField(label=_("Churn risk at least (%)"), min_value=0, max_value=100,
                                        decimal_places=2, required=False)  # fmt: skip
    churn_risk_max = forms.DecimalField(label=_("Churn risk at most (%)"), min_value=0, max_value=100,
                                        decimal_places=2, required=False)  # fmt: skip
    clv_min = forms.DecimalField(label=_("CLV at least"), min_value=0, max_digits=14, decimal_places=2, required=False)
    clv_max = forms.DecimalField(label=_("CLV at most"), min_value=0, max_digits=14, decimal_places=2, required=False)
    predicted_purchases_min = forms.DecimalField(
        label=_("Predicted purchases at least"), min_value=0, max_digits=8, decimal_places=2, required=False,
        help_text=_("Purchases expected over the CLV horizon (from the last classification)."),
    )  # fmt: skip

    # Dates, coupons, points, plans and stored value.
    important_date_within_days = _days_field(
        _("An important date within the next days"), _("Anniversaries, partners' birthdays and other dates."), 366
    )
    has_valid_coupon = forms.ChoiceField(label=_("Holds a valid coupon"), choices=YES_NO_CHOICES, required=False)
    points_balance_min = forms.IntegerField(label=_("Points balance at least"), min_value=0, required=False)
    points_balance_max = forms.IntegerField(label=_("Points balance at most"), min_value=0, required=False)
    points_expiring_within_days = _days_field(_("Points expiring within the next days"), high=366)
    points_expiring_min_points = forms.IntegerField(
        label=_("… at least this many points"), min_value=1, required=False, help_text=_("Empty: any.")
    )
    paid_plan = forms.ChoiceField(label=_("Holds a paid membership"), choices=YES_NO_CHOICES, required=False)
    event_attended_within_days = _days_field(
        _("Came to a member event within the last days"), _("Checked in at any member event.")
    )
    stored_value_balance_min = forms.DecimalField(
        label=_("Stored value at least"), min_value=0, max_digits=14, decimal_places=2, required=False
    )

    def __init__(self, *args, rules: dict | None = None, **kwargs):
        if rules:
            initial = kwargs.setdefault("initial", {})
            for key, value in fields_from_rules(rules).items():
                initial.setdefault(key, value)
        super().__init__(*args, **kwargs)
        self.fields["tiers"].choices = [(tier.code, tier.display_name) for tier in tiers()]

    def rules_from_fields(self) -> dict:
        data = self.cleaned_data
        raw = {
            "classification": data.get("classification") or [],
            "tiers": data.get("tiers") or [],
            "stores": [store.code for store in data.get("stores") or []],
            "tags": [tag.name for tag in data.get("tags") or []],
            "min_spend_12m": data.get("min_spend_12m"),
            "last_purchase_after": data.get("last_purchase_after"),
            "last_purchase_before": data.get("last_purchase_before"),
            "birthday_month": data.get("birthday_month") or [],
            "consented_channel": data.get("consented_channel") or "",
        }
        if data.get("bought_product"):
            raw["bought_product"] = {"product": data["bought_product"].sku}
            if data.get("bought_product_within_days"):
                raw["bought_product"]["within_days"] = data["bought_product_within_days"]
        if data.get("bought_category"):
            raw["bought_category"] = {"category": data["bought_category"].code}
            if data.get("bought_category_within_days"):
                raw["bought_category"]["within_days"] = data["bought_category_within_days"]
        if data.get("not_bought_category") or data.get("not_bought_category_days"):
            category = data.get("not_bought_category")
            raw["not_bought_category_days"] = {
                "category": category.code if category else "",
                "days": data.get("not_bought_category_days"),
            }
        raw["favourite_category"] = [category.code for category in data.get("favourite_category") or []]
        for key in ("colour", "style", "preferred_channel"):
            raw[key] = _values(data.get(key) or "")
        for key in ("churn_risk_min", "churn_risk_max"):
            if data.get(key) is not None:
                raw[key] = float(data[key] / PERCENT)
        for key in ("clv_min", "clv_max", "stored_value_balance_min", "predicted_purchases_min"):
            raw[key] = data.get(key)
        for key in ("important_date_within_days", "points_balance_min", "points_balance_max"):
            raw[key] = data.get(key)
        for key in ("has_valid_coupon", "paid_plan"):
            if data.get(key):
                raw[key] = data[key] == "yes"
        if data.get("event_attended_within_days"):
            raw["event_attended"] = {"within_days": data["event_attended_within_days"]}
        if data.get("points_expiring_within_days") is not None:
            raw["points_expiring_within_days"] = {"days": data["points_expiring_within_days"]}
            if data.get("points_expiring_min_points"):
                raw["points_expiring_within_days"]["min_points"] = data["points_expiring_min_points"]
        return {key: value for key, value in raw.items() if value not in (None, "", [])}

    def clean(self):
        cleaned = super().clean()
        if any(key in self.errors for key in RULE_FORM_FIELDS):
            return cleaned
        try:
            self.cleaned_rules = validate_rules(self.rules_from_fields())
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                self.add_error(key if key in self.fields else None, messages)
        return cleaned


def fields_from_rules(rules: dict) -> dict:
    """The form's initial values for stored (clean) rules: the inverse of `rules_from_fields`."""
    initial: dict = {}
    for key, value in rules.items():
        if key == "birthday_month" and not isinstance(value, list):
            value = [value]
        if key in ("bought_product", "bought_category"):
            initial[key] = value[key.removeprefix("bought_")]
            if "within_days" in value:
                initial[f"{key}_within_days"] = value["within_days"]
        elif key == "not_bought_category_days":
            initial["not_bought_category"] = value["category"]
            initial["not_bought_category_days"] = value["days"]
        elif key in ("colour", "style", "preferred_channel"):
            initial[key] = ", ".join(value)
        elif key in ("churn_risk_min", "churn_risk_max"):
            initial[key] = round(value * PERCENT, 2)
        elif key in ("has_valid_coupon", "paid_plan"):
            initial[key] = "yes" if value else "no"
        elif key == "event_attended":
            if "within_days" in value:
                initial["event_attended_within_days"] = value["within_days"]
        elif key == "points_expiring_within_days":
            initial[key] = value["days"]
            if value.get("min_points", 1) > 1:
                initial["points_expiring_min_points"] = value["min_points"]
        else:
            initial[key] = value
    return initial


# The builder's sections: (title, field names).
FIELD_GROUPS = [
    (_("Who is in the segment"), list(RULE_KEYS[: RULE_KEYS.index("consented_channel") + 1])),
    (
        _("What they bought"),
        [
            "bought_product",
            "bought_product_within_days",
            "bought_category",
            "bought_category_within_days",
            "not_bought_category",
            "not_bought_category_days",
        ],
    ),
    (_("What they like"), ["favourite_category", "colour", "style", "preferred_channel"]),
    (_("Predictions"), ["churn_risk_min", "churn_risk_max", "clv_min", "clv_max", "predicted_purchases_min"]),
    (
        _("Dates, coupons and balances"),
        [
            "important_date_within_days",
            "has_valid_coupon",
            "points_balance_min",
            "points_balance_max",
            "points_expiring_within_days",
            "points_expiring_min_points",
            "paid_plan",
            "stored_value_balance_min",
            "event_attended_within_days",
        ],
    ),
]
RULE_FORM_FIELDS = [name for _title, names in FIELD_GROUPS for name in names]


class SegmentAdminForm(SegmentRulesForm, forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description"]

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, instance=instance, rules=instance.rules if instance else None, **kwargs)
