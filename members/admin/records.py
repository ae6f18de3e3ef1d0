"""A member's records: service records, preferences, interactions, consent history, clear views."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy

from loyalty_crm.admin_base import ReadOnlyAdmin
from members import services
from members.admin._common import (
    MemberListFilter,
    MemberScopedAdminMixin,
    PlainForeignKeysMixin,
    ServiceFormAdminMixin,
    staff_store,
)
from members.forms import (
    InteractionAddForm,
    PreferenceAddForm,
    ServiceRecordAddForm,
)
from members.models import (
    ConsentEvent,
    ContactDetailView,
    Interaction,
    Preference,
    ServiceRecord,
)

# --- records of a member -------------------------------------------------------------------


class MemberRecordAdmin(PlainForeignKeysMixin, MemberScopedAdminMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    """Service records, preferences and interactions: added through their service."""

    autocomplete_fields = ["member"]
    show_full_result_count = False
    list_per_page = 50
    search_help_text = gettext_lazy("Member number (exact) or words of the summary.")
    add_fields: list[str] = []
    change_fields: list[str] = []
    readonly_on_change: list[str] = ["member"]

    def get_fields(self, request, obj=None):
        return self.change_fields if obj is not None else self.add_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_on_change if obj is not None else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        store = staff_store(request.user)
        if store is not None and "store" in self.add_fields:
            initial.setdefault("store", store.pk)
        return initial


def _active_staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


@admin.display(description=gettext_lazy("summary"), ordering="summary")
def summary_text(record: ServiceRecord | Interaction) -> str:
    """The summary in the reader's language (`members.summaries`), no query of its own."""
    return record.summary_text


@admin.register(ServiceRecord)
class ServiceRecordAdmin(MemberRecordAdmin):
    add_form = ServiceRecordAddForm
    list_display = ["opened_at", "member", "kind", "status", "store", "staff", summary_text, "closed_at"]
    list_select_related = ["member", "store", "staff"]
    list_filter = [MemberListFilter, "status", "kind", "store", "opened_at"]
    search_fields = ["=member__member_no", "summary"]
    autocomplete_fields = ["member", "store"]
    add_fields = ["member", "kind", "store", "summary", "details"]
    change_fields = ["member", "kind", "store", "summary", "details", "opened_at", "status", "staff", "closed_at"]
    readonly_on_change = ["member", "kind", "store", "summary", "details", "opened_at"]

    def save_model(self, request, obj, form, change):
        if change and not getattr(form, "saved_by_service", False):
            # Through the service, which stamps or clears closed_at with the status.
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in services.SERVICE_RECORD_FIELDS}
            form.instance = services.update_service_record(record=obj, actor=request.user, **changes)
            return
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            kwargs["queryset"] = _active_staff_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Preference)
class PreferenceAdmin(MemberRecordAdmin):
    add_form = PreferenceAddForm
    list_display = ["member", "kind", "key", "value", "category", "product", "updated_at"]
    list_select_related = ["member", "category", "product"]
    list_filter = [MemberListFilter, "kind"]
    search_fields = ["=member__member_no", "key", "value"]
    search_help_text = gettext_lazy("Member number (exact), key or value.")
    autocomplete_fields = ["member", "category", "product"]
    add_fields = ["member", "kind", "key", "value", "category", "product"]
    change_fields = add_fields


@admin.register(Interaction)
class InteractionAdmin(MemberRecordAdmin):
    add_form = InteractionAddForm
    list_display = ["occurred_at", "member", "kind", "channel", "direction", summary_text, "store", "staff"]
    list_select_related = ["member", "store", "staff"]
    list_filter = [MemberListFilter, "kind", "channel", "direction", "store", "occurred_at"]
    search_fields = ["=member__member_no", "summary"]
    autocomplete_fields = ["member", "store"]
    add_fields = ["member", "kind", "channel", "direction", "summary", "store", "occurred_at"]
    change_fields = [*add_fields, "staff"]
    readonly_on_change = ["member", "occurred_at", "staff"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(MemberScopedAdminMixin, ReadOnlyAdmin):
    """The consent history: append-only, written by `set_consents`; nobody edits it here."""

    list_display = ["at", "member", "topic", "granted", "source", "actor"]
    list_select_related = ["member", "actor"]
    list_filter = [MemberListFilter, "topic", "granted", "source", "at"]
    search_fields = ["=member__member_no"]
    search_help_text = gettext_lazy("Exact member number.")
    show_full_result_count = False
    fields = ["member", "topic", "granted", "at", "source", "actor"]
    readonly_fields = fields


@admin.register(ContactDetailView)
class ContactDetailViewAdmin(MemberScopedAdminMixin, ReadOnlyAdmin):
    """Who saw which contact details in clear (a member's, or a ticket's): append-only, written by
    `record_contact_view`; managers read it (`view_contactdetailview`), nobody edits it."""

    list_display = ["at", "username", "member", "subject", "channel", "client_ip", "path"]
    list_select_related = ["member"]
    list_filter = [MemberListFilter, ("user", admin.RelatedOnlyFieldListFilter), "channel", "at"]
    search_fields = ["=member__member_no", "=username"]
    search_help_text = gettext_lazy("Exact member number or username.")
    show_full_result_count = False
    fields = ["at", "member", "subject", "user", "username", "channel", "path", "client_ip"]
    readonly_fields = fields
