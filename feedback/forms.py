"""The public feedback form. It checks the shape of the input; `submit_feedback` decides and writes."""

from __future__ import annotations

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from feedback.images import MAX_PHOTO_BYTES, MAX_PHOTOS
from feedback.models import Ticket
from feedback.services import MAX_MESSAGE_LENGTH, MAX_NAME_LENGTH, MAX_REF_LENGTH
from members.models import Store

# Where a service error about a field shows on the form.
SERVICE_FIELD_ALIASES = {"purchase_ref": "order_ref", "channel": None}


def _photo_help_text() -> str:
    # Translated at render time, in the customer's language (a `%` on a lazy string would not be).
    return gettext("Up to %(count)d photos (JPEG, PNG or WebP), %(size)d MB each.") % {
        "count": MAX_PHOTOS,
        "size": MAX_PHOTO_BYTES // (1024 * 1024),
    }


_photo_help = lazy(_photo_help_text, str)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Up to `MAX_PHOTOS` files from one `<input multiple>`; `feedback.images` checks each."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [f for f in files if f]


class FeedbackForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What is it about?"),
        choices=Ticket.Kind.choices,
        initial=Ticket.Kind.COMPLAINT,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label=_("Your message"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_MESSAGE_LENGTH}),
    )
    contact_name = forms.CharField(label=_("Your name"), max_length=MAX_NAME_LENGTH, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    member_no = forms.CharField(label=_("Member number"), max_length=MAX_REF_LENGTH, required=False)
    order_ref = forms.CharField(label=_("Order reference"), max_length=MAX_REF_LENGTH, required=False)
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        empty_label=_("— not about a store —"),
    )
    photos = MultiplePhotoField(
        label=_("Photos"),
        required=False,
        help_text=_photo_help(),
    )
    # The honeypot: hidden from people, filled in by bots.
    website = forms.CharField(label=_("Leave this field empty"), required=False)
    # A signed purchase from the member centre (`feedback.prefill`): fills member, order and store.
    purchase = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, purchase=None, **kwargs):
        """`purchase`: the purchase a valid signed token named (the view checks it), or None."""
        self.prefilled_purchase = purchase
        if purchase is not None and not args:
            kwargs.setdefault("initial", {}).update(
                {
                    "member_no": purchase.member.member_no,
                    "order_ref": purchase.external_ref,
                    "store": purchase.store_id,
                    "contact_name": purchase.member.name,
                }
            )
        super().__init__(*args, **kwargs)
        if purchase is not None:
            from feedback.prefill import purchase_token

            self.fields["purchase"].initial = purchase_token(purchase)
            for name in ("member_no", "order_ref"):
                self.fields[name].widget.attrs["readonly"] = True

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        purchase = self.prefilled_purchase
        if purchase is not None:
            # The signed purchase wins over what the fields say: its member, order and store.
            return {
                "kind": data["kind"],
                "message": data["message"],
                "contact_name": data["contact_name"],
                "phone": data["phone"],
                "email": data["email"],
                "member_no": purchase.member.member_no,
                "purchase_ref": purchase.external_ref,
                "store": data["store"] or purchase.store,
                "photos": data["photos"],
            }
        return {
            "kind": data["kind"],
            "message": data["message"],
            "contact_name": data["contact_name"],
            "phone": data["phone"],
            "email": data["email"],
            "member_no": data["member_no"],
            "purchase_ref": data["order_ref"],
            "store": data["store"],
            "photos": data["photos"],
        }


class SurveyForm(forms.Form):
    """A score (1–5 for CSAT, 0–10 for NPS) and an optional comment; `feedback.surveys` decides."""

    score = forms.TypedChoiceField(label=_("Your score"), coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Anything you would like to add?"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 1000}),
    )

    def __init__(self, *args, scores: range, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["score"].choices = [(value, str(value)) for value in scores]
        self.fields["score"].error_messages["required"] = gettext("Please choose a score.")
