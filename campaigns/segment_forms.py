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
from members.models import Store, Tag
from rewards.selectors import tiers

CHANNEL_CHOICES = [
    ("", _("Any (consent not required)")),
    ("email", _("Email")),
    ("sms", _("SMS")),
    ("wechat", _("WeChat")),
]


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

    def __init__(self, *args, rules: dict | None = None, **kwargs):
        if rules:
            initial = kwargs.setdefault("initial", {})
            for key, value in rules.items():
                if key == "birthday_month" and not isinstance(value, list):
                    value = [value]
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
        return {key: value for key, value in raw.items() if value not in (None, "", [])}

    def clean(self):
        cleaned = super().clean()
        if any(key in self.errors for key in RULE_KEYS):
            return cleaned
        try:
            self.cleaned_rules = validate_rules(self.rules_from_fields())
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                self.add_error(key if key in self.fields else None, messages)
        return cleaned


class SegmentAdminForm(SegmentRulesForm, forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description"]

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, instance=instance, rules=instance.rules if instance else None, **kwargs)
