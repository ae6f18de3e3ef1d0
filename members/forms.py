"""Admin forms for customer profiles. They validate input; the services decide and write.

Forms whose `saved_by_service` is true call a `members.services` function while validating
(`_post_clean`), so the service's errors, keyed by field, appear next to the fields they name.
The admin (`members.admin.ServiceFormAdminMixin`) then skips `form.save()` and rolls the whole
request back when anything else on the page turns out invalid, so nothing is half-written.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime, AutocompleteSelect
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from loyalty_crm.errors import DomainError
from members import services
from members.models import (
    ConsentSource,
    ConsentTopic,
    ImportantDate,
    Interaction,
    Member,
    PaymentMethod,
    Preference,
    Purchase,
    SalesChannel,
    ServiceRecord,
    Store,
)

CONSENT_FIELDS = {f"consent_{topic}": topic for topic in ConsentTopic.values}
# The profile fields `update_member` accepts, as named on the form.
PROFILE_FIELDS = (
    "name",
    "gender",
    "phone",
    "email",
    "birthday",
    "home_store",
    "status",
    "external_id",
    "source_channel",
    "notes",
)
# A service error about one of these lands on the form field named on the right.
SERVICE_FIELD_ALIASES = {"referral_code": "referred_by", "consents": None}


def add_service_errors(form: forms.BaseForm, error: ValidationError | DomainError, aliases=None) -> None:
    """Show a service's error on the form: next to the field it names, else above the form."""
    if isinstance(error, DomainError):
        form.add_error(None, error.detail)
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    aliases = {**SERVICE_FIELD_ALIASES, **(aliases or {})}
    for key, errors in error.error_dict.items():
        field = aliases.get(key, key)
        messages = [message for err in errors for message in err.messages]
        if field in form.fields and field not in form.errors:
            form.add_error(field, messages)
        else:
            form.add_error(None, messages)


class ServiceFormMixin:
    """For forms that save through a service while validating; the admin sets `actor`."""

    saved_by_service = True
    actor = None

    def _post_clean(self):
        if self._errors:
            return
        try:
            saved = self.save_through_service(self.cleaned_data)
        except (ValidationError, DomainError) as error:
            add_service_errors(self, error)
        else:
            if saved is not None:
                self.instance = saved

    def save_through_service(self, data):  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, commit=True):
        # Already saved by the service during validation; the admin never calls this.
        return self.instance


def _blank_to_none(value):
    return value if value not in ("", None) else None


class MemberAdminForm(ServiceFormMixin, forms.ModelForm):
    """Register or change a member through `create_member` / `update_member`."""

    phone = forms.CharField(
        label=capfirst(_("phone")),
        required=False,
        max_length=40,
        help_text=_("Any format: 13812345678, +86 138-1234-5678 … A phone or an email is required."),
    )
    email = forms.CharField(label=capfirst(_("email")), required=False, max_length=254)
    birthday = forms.DateField(label=capfirst(_("birthday")), required=False, widget=AdminDateWidget)
    status = forms.ChoiceField(
        label=capfirst(_("status")),
        choices=[choice for choice in Member.Status.choices if choice[0] != Member.Status.ERASED],
        help_text=_("To erase a member, use the “Erase selected members” action in the list."),
    )
    consent_marketing_sms = forms.BooleanField(label=ConsentTopic.MARKETING_SMS.label, required=False)
    consent_marketing_email = forms.BooleanField(label=ConsentTopic.MARKETING_EMAIL.label, required=False)
    consent_marketing_wechat = forms.BooleanField(label=ConsentTopic.MARKETING_WECHAT.label, required=False)
    consent_data_processing = forms.BooleanField(label=ConsentTopic.DATA_PROCESSING.label, required=False)
    wechat_openid = forms.CharField(
        label=capfirst(_("WeChat openid")),
        required=False,
        max_length=64,
        help_text=_(
            "Bound when the member signs in with WeChat in the member centre; staff may bind one by hand or "
            "clear it. The WeChat channel sends only to a bound openid."
        ),
    )

    class Meta:
        model = Member
        fields = [
            "name",
            "gender",
            "phone",
            "email",
            "birthday",
            "home_store",
            "referred_by",
            "status",
            "tags",
            "external_id",
            "source_channel",
            "notes",
            "wechat_openid",
            *CONSENT_FIELDS,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Declared fields are always on a ModelForm; keep only those this page shows
        # (no status on the add page, none of them on a read-only page).
        shown = set(self._meta.fields or ())
        for name in list(self.declared_fields):
            if name not in shown:
                self.fields.pop(name, None)
        if self.instance.pk and any(name in self.fields for name in CONSENT_FIELDS):
            state = services.consent_state(self.instance)
            for name, topic in CONSENT_FIELDS.items():
                if name in self.fields:
                    self.initial[name] = state[topic]
        if "notes" in self.fields:
            self.fields["notes"].widget.attrs.setdefault("rows", 3)

    def _consents(self, data, *, changed_only: bool) -> dict[str, bool]:
        consents = {}
        for name, topic in CONSENT_FIELDS.items():
            if name not in self.fields:
                continue
            if changed_only and name not in self.changed_data:
                continue
            consents[topic] = bool(data.get(name))
        return consents

    def save_through_service(self, data):
        member = self._save_profile(data)
        if "wechat_openid" in self.fields and "wechat_openid" in self.changed_data:
            member = services.bind_wechat_openid(member, data.get("wechat_openid"), actor=self.actor)
        return member

    def _save_profile(self, data):
        tags = [tag.name for tag in data.get("tags") or []] if "tags" in self.fields else None
        if self.instance.pk is None:
            referrer = data.get("referred_by")
            return services.create_member(
                name=data.get("name", ""),
                gender=data.get("gender") or Member.Gender.UNKNOWN,
                phone=_blank_to_none(data.get("phone")),
                email=_blank_to_none(data.get("email")),
                birthday=data.get("birthday"),
                home_store=data.get("home_store"),
                external_id=_blank_to_none(data.get("external_id")),
                referral_code=referrer.referral_code if referrer else None,
                source_channel=data.get("source_channel") or Member.SourceChannel.STORE,
                notes=data.get("notes", ""),
                tags=tags or (),
                # A new member's history starts with what was granted, not a list of refusals.
                consents=dict.fromkeys(
                    [topic for topic, granted in self._consents(data, changed_only=False).items() if granted], True
                ),
                actor=self.actor,
                consent_source=ConsentSource.ADMIN,
            )
        changes = {field: data.get(field) for field in PROFILE_FIELDS if field in self.changed_data}
        for field in ("phone", "email", "external_id"):
            if field in changes:
                changes[field] = _blank_to_none(changes[field])
        tags_changed = tags is not None and "tags" in self.changed_data
        consents = self._consents(data, changed_only=True)
        if changes or tags_changed:
            return services.update_member(
                member=self.instance,
                actor=self.actor,
                consents=consents or None,
                consent_source=ConsentSource.ADMIN,
                tags=tags if tags_changed else None,
                **changes,
            )
        if consents:
            services.set_consents(member=self.instance, consents=consents, actor=self.actor, source=ConsentSource.ADMIN)
        return self.instance


# --- records (admin inlines on the member page and the records' own add pages) ----------------


class RecordFormMixin(ServiceFormMixin):
    """Adds one record of a member through its service; the member comes from the form."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "summary" in self.fields:
            # Staff type a summary; only the system's coded records may have none (`summary_code`).
            self.fields["summary"].required = True

    def member(self, data) -> Member | None:
        return data.get("member") or getattr(self.instance, "member", None)


class ServiceRecordAddForm(RecordFormMixin, forms.ModelForm):
    class Meta:
        model = ServiceRecord
        fields = ["member", "kind", "store", "summary", "details"]
        widgets = {"details": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def save_through_service(self, data):
        extra = {key: data[key] for key in ("store", "details", "status", "staff", "opened_at") if key in data}
        return services.add_service_record(
            member=self.member(data), kind=data["kind"], summary=data["summary"], actor=self.actor, **extra
        )


class PreferenceAddForm(RecordFormMixin, forms.ModelForm):
    class Meta:
        model = Preference
        fields = ["member", "kind", "key", "value", "category", "product"]

    def save_through_service(self, data):
        extra = {key: data.get(key) for key in ("key", "value", "category", "product")}
        extra["key"] = extra["key"] or ""
        extra["value"] = extra["value"] or ""
        return services.add_preference(member=self.member(data), kind=data["kind"], actor=self.actor, **extra)


class ImportantDateAddForm(RecordFormMixin, forms.ModelForm):
    consent = forms.BooleanField(
        label=_("Customer agrees"),
        required=False,
        help_text=_("Tick when the customer agrees to data processing (needed to keep dates) and has not yet."),
    )

    class Meta:
        model = ImportantDate
        fields = ["member", "kind", "label", "month", "day", "year"]

    def save_through_service(self, data):
        return services.add_important_date(
            member=self.member(data),
            kind=data["kind"],
            label=data.get("label") or "",
            month=data["month"],
            day=data["day"],
            year=data.get("year") or None,
            consent=bool(data.get("consent")),
            actor=self.actor,
            source=ConsentSource.ADMIN,
        )


class InteractionAddForm(RecordFormMixin, forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["member", "kind", "channel", "direction", "summary", "store", "occurred_at"]

    def save_through_service(self, data):
        extra = {key: data[key] for key in ("direction", "store", "occurred_at", "staff") if data.get(key)}
        return services.add_interaction(
            member=self.member(data),
            kind=data["kind"],
            channel=data["channel"],
            summary=data["summary"],
            actor=self.actor,
            **extra,
        )


# --- recording a purchase --------------------------------------------------------------------


class RecordPurchaseForm(forms.Form):
    """The header of a purchase recorded at the counter; the lines are `PurchaseLineFormSet`."""

    member = forms.ModelChoiceField(label=capfirst(_("member")), queryset=Member.objects.not_erased())
    external_ref = forms.CharField(
        label=capfirst(_("receipt or order number")),
        max_length=64,
        required=False,
        help_text=_("The POS receipt or order number. Left blank, one is generated."),
    )
    store = forms.ModelChoiceField(
        label=capfirst(_("store")), queryset=Store.objects.filter(is_active=True), required=False
    )
    channel = forms.ChoiceField(label=capfirst(_("channel")), choices=SalesChannel.choices, initial=SalesChannel.STORE)
    payment_method = forms.ChoiceField(
        label=capfirst(_("payment method")), choices=[("", "---------"), *PaymentMethod.choices], required=False
    )
    ordered_at = forms.SplitDateTimeField(label=capfirst(_("ordered at")), widget=AdminSplitDateTime)
    total = forms.DecimalField(
        label=capfirst(_("total paid")),
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text=_("What the customer actually paid (CNY). Left blank: the lines' total less their discounts."),
    )

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            field = self.fields["member"]
            field.widget = AutocompleteSelect(Purchase._meta.get_field("member"), admin_site)
            field.widget.choices = field.choices  # what the select renders for a chosen member
            field.widget.is_required = field.required

    @staticmethod
    def default_initial(user, member_id=None) -> dict:
        now = timezone.localtime()
        initial = {"ordered_at": now.replace(second=0, microsecond=0), "channel": SalesChannel.STORE}
        profile = getattr(user, "staff_profile", None)
        if profile is not None and profile.store_id:
            initial["store"] = profile.store_id
        if member_id and str(member_id).isdigit():
            initial["member"] = int(member_id)
        return initial


class PurchaseLineForm(forms.Form):
    sku = forms.CharField(label=capfirst(_("SKU")), max_length=64)
    name = forms.CharField(label=capfirst(_("name")), max_length=200, required=False)
    category = forms.CharField(
        label=capfirst(_("category")),
        max_length=100,
        required=False,
        help_text=_("Code or name; a new one is created."),
    )
    quantity = forms.IntegerField(label=capfirst(_("quantity")), initial=1)
    unit_price = forms.DecimalField(label=capfirst(_("unit price")), max_digits=12, decimal_places=2)
    discount = forms.DecimalField(
        label=capfirst(_("discount")), max_digits=12, decimal_places=2, required=False, initial=0
    )

    def line(self) -> services.PurchaseLine:
        data = self.cleaned_data
        return services.PurchaseLine(
            sku=data["sku"].strip(),
            name=data.get("name") or "",
            category=data.get("category") or "",
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            discount=data.get("discount") or 0,
        )


PurchaseLineFormSet = forms.formset_factory(PurchaseLineForm, extra=4, min_num=1, validate_min=True)
