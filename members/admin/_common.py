"""Shared pieces of the members back office: permissions, mixins, list filters, record inlines."""

from __future__ import annotations

import dataclasses

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import router, transaction
from django.utils.translation import gettext_lazy
from simple_history.template_utils import HistoricalRecordContextHelper

from members import loyalty, masking
from members.forms import (
    ImportantDateAddForm,
    InteractionAddForm,
    PreferenceAddForm,
    ServiceRecordAddForm,
)
from members.models import (
    ImportantDate,
    Interaction,
    Preference,
    ServiceRecord,
)

EXPORT_PERMISSION = "members.export_member"
ERASE_PERMISSION = "members.erase_member"
IMPORT_PERMISSION = "members.import_members"


# --- helpers ---------------------------------------------------------------------------------


def staff_store(user):
    """The store a staff user works in (their StaffProfile), or None."""
    profile = getattr(user, "staff_profile", None)
    return profile.store if profile is not None else None


class ServiceFormAdminMixin:
    """For admins whose forms save through a service while validating (`members.forms`).

    The service has already written when the admin would call `form.save()`, so saving is
    skipped; and when something else on the page is invalid (an inline, say) the request's
    transaction is rolled back, so a page with errors never leaves half of its writes behind.
    """

    add_form = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if request.method == "POST" and not getattr(request, "_admin_saved", False):
                transaction.set_rollback(True)
        return response

    def save_form(self, request, form, change):
        if getattr(form, "saved_by_service", False):
            return form.instance
        return super().save_form(request, form, change)

    def save_model(self, request, obj, form, change):
        if getattr(form, "saved_by_service", False):
            return
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        request._admin_saved = True
        if getattr(form, "saved_by_service", False):
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)
            return
        super().save_related(request, form, formsets, change)

    def save_formset(self, request, form, formset, change):
        if getattr(formset.form, "saved_by_service", False):
            # The inline forms' services wrote while validating; report what they added.
            formset.new_objects = [f.instance for f in formset.forms if f.instance.pk]
            formset.changed_objects, formset.deleted_objects = [], []
            return
        super().save_formset(request, form, formset, change)


class PlainForeignKeysMixin:
    """Foreign-key pickers without the pencil/plus/cross buttons: picking a store on a member's
    page should not offer to edit or delete the store itself."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, RelatedFieldWidgetWrapper) and not db_field.many_to_many:
            widget.can_add_related = widget.can_change_related = widget.can_delete_related = False
        return formfield


class MemberListFilter(admin.SimpleListFilter):
    """`?member__member_no__exact=M…`: a record list narrowed to one member (linked from the 360 page)."""

    title = gettext_lazy("member")
    parameter_name = "member__member_no__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(member__member_no=value) if value else queryset


class MemberScopedAdminMixin:
    """Record lists open filtered on one member: `?member__id__exact=` or `?member__member_no__exact=`."""

    def lookup_allowed(self, lookup, value, request=None):
        if lookup == MemberListFilter.parameter_name:
            return True  # consumed by MemberListFilter
        return super().lookup_allowed(lookup, value, request)


class TierListFilter(admin.SimpleListFilter):
    title = gettext_lazy("tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return loyalty.tier_choices()

    def queryset(self, request, queryset):
        value = self.value()
        return loyalty.filter_by_tier(queryset, value) if value else queryset


class MemberChangeList(ChangeList):
    """Loads the page's points and tiers in one call to the loyalty hook, never one per row."""

    def get_results(self, request):
        super().get_results(request)
        members = list(self.result_list)  # evaluates (and caches) the page's queryset
        snapshots = loyalty.snapshots(members)
        for member in members:
            member.loyalty_snapshot = snapshots.get(member.pk)


class MemberHistoryContext(HistoricalRecordContextHelper):
    """History diffs without personal data in clear, and without the derived hash columns."""

    HIDDEN = {"phone_hash", "email_hash", "birth_month", "birth_day"}

    def context_for_delta_changes(self, delta):
        visible = [change for change in delta.changes if change.field not in self.HIDDEN]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=visible))

    def prepare_delta_change_value(self, change, value):
        if change.field == "phone":
            return masking.mask_phone(value)
        if change.field == "email":
            return masking.mask_email(value)
        if change.field == "birthday":
            return "****-**-**" if value else ""
        return super().prepare_delta_change_value(change, value)


# --- inlines: adding records from the member page -------------------------------------------


class AddRecordInline(PlainForeignKeysMixin, admin.TabularInline):
    """Adds new records through their service; the existing ones are in the 360 panels above.

    No existing rows are loaded, so the page's query count does not grow with the history.
    """

    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_add_permission(self, request, obj=None):
        if obj is None or obj.is_erased:
            return False
        return super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.actor = request.user
        return formset


class ServiceRecordInline(AddRecordInline):
    model = ServiceRecord
    form = ServiceRecordAddForm
    fields = ["kind", "store", "summary", "details"]
    autocomplete_fields = ["store"]
    verbose_name_plural = gettext_lazy("New service records")


class PreferenceInline(AddRecordInline):
    model = Preference
    form = PreferenceAddForm
    fields = ["kind", "key", "value", "category", "product"]
    autocomplete_fields = ["category", "product"]
    verbose_name_plural = gettext_lazy("New preferences")


class ImportantDateInline(AddRecordInline):
    model = ImportantDate
    form = ImportantDateAddForm
    fields = ["kind", "label", "month", "day", "year", "consent"]
    verbose_name_plural = gettext_lazy("New important dates")


class InteractionInline(AddRecordInline):
    model = Interaction
    form = InteractionAddForm
    fields = ["kind", "channel", "direction", "summary", "store"]
    autocomplete_fields = ["store"]
    verbose_name_plural = gettext_lazy("New interactions")
