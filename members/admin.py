"""The back office for customer profiles: the store staff's daily tool.

Every write goes through `members.services`: the member form and the record forms call their
service while validating (`members.forms`), the purchase page calls `record_purchase`, and the
actions call `erase_member`. Reads that show a whole profile use `members.selectors`, so each
page runs a fixed number of queries whatever a member's history or the number of members.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import secrets

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.db.models import Count
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from loyalty_crm.netaddr import client_ip
from members import classification_hook as member_classification
from members import loyalty, masking, services
from members.forms import (
    CONSENT_FIELDS,
    InteractionAddForm,
    MemberAdminForm,
    PreferenceAddForm,
    PurchaseLineFormSet,
    RecordPurchaseForm,
    ServiceRecordAddForm,
    add_service_errors,
)
from members.models import (
    Category,
    ConsentEvent,
    ConsentTopic,
    ContactDetailView,
    Interaction,
    Member,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    ServiceRecord,
    Store,
    Tag,
)
from members.selectors import member_360, member_export, member_search

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


class InteractionInline(AddRecordInline):
    model = Interaction
    form = InteractionAddForm
    fields = ["kind", "channel", "direction", "summary", "store"]
    autocomplete_fields = ["store"]
    verbose_name_plural = gettext_lazy("New interactions")


# --- members ---------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() hands the line back, for streaming CSV."""

    def write(self, value):
        return value


CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    """Free text that a spreadsheet would read as a formula is prefixed with an apostrophe."""
    return "'" + value if value and value.startswith(CSV_FORMULA_START) else value


@admin.register(Member)
class MemberAdmin(PlainForeignKeysMixin, ServiceFormAdminMixin, SimpleHistoryAdmin):
    form = MemberAdminForm
    list_display = ["member_no", "name", "phone_masked", "home_store", "tier", "status", "registered"]
    list_display_links = ["member_no", "name"]
    list_select_related = ["home_store"]
    list_filter = [TierListFilter, "home_store", "status", "tags", "registered_at"]
    list_per_page = 50
    # The search itself is `get_search_results` (member_search); this only turns the box on.
    search_fields = ["member_no"]
    search_help_text = gettext_lazy(
        "Member number, external ID, name, or an exact phone number (any format) or email address."
    )
    autocomplete_fields = ["home_store", "referred_by", "tags"]
    show_full_result_count = False
    actions = ["export_csv", "export_json", "erase_selected"]
    inlines = [ServiceRecordInline, PreferenceInline, InteractionInline]
    history_list_per_page = 50

    # permissions of the actions (ModelAdmin calls has_<name>_permission)
    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_PERMISSION)

    def has_erase_permission(self, request):
        return request.user.has_perm(ERASE_PERMISSION)

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_erased:
            return False  # erased profiles are read-only
        return super().has_change_permission(request, obj)

    # --- list ---

    def get_changelist(self, request, **kwargs):
        return MemberChangeList

    def get_search_results(self, request, queryset, search_term):
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            queryset = queryset.not_erased()  # nobody picks an erased member in a form
        return member_search(queryset, search_term), False

    # Lists show contact data masked for everyone; a member's own page shows what
    # `render_change_form` decided for this reader (`member.contact_values`), masked by default.

    @admin.display(description=gettext_lazy("phone"))
    def phone_masked(self, member):
        return masking.mask_phone(member.phone)

    @staticmethod
    def _shown(member) -> masking.ContactValues:
        return getattr(member, "contact_values", None) or masking.contact_values(member, clear=False)

    @admin.display(description=gettext_lazy("phone"))
    def phone_shown(self, member):
        return self._shown(member).phone or ""

    @admin.display(description=gettext_lazy("email"))
    def email_shown(self, member):
        return self._shown(member).email or ""

    @admin.display(description=gettext_lazy("birthday"))
    def birthday_shown(self, member):
        return masking.birthday_display(member.birthday, clear=not self._shown(member).masked)

    @admin.display(description=Member._meta.get_field("registered_at").verbose_name, ordering="registered_at")
    def registered(self, member):
        return date_format(timezone.localtime(member.registered_at), "Y-m-d H:i")

    @admin.display(description=gettext_lazy("tier"))
    def tier(self, member):
        snapshot = getattr(member, "loyalty_snapshot", None) or loyalty.snapshot(member)
        return snapshot.tier.name

    @admin.display(description=gettext_lazy("tags"))
    def tag_list(self, member):
        return ", ".join(member.tags.values_list("name", flat=True))

    @admin.display(description=gettext_lazy("consents"))
    def consent_summary(self, member):
        state = services.consent_state(member)
        answers = {True: _("yes"), False: _("no")}
        return "; ".join(f"{ConsentTopic(topic).label}: {answers[bool(granted)]}" for topic, granted in state.items())

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import_members": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        def import_view(request):
            # Imported here: members/admin_import.py is written alongside and may load later.
            from members.admin_import import import_members_view

            return import_members_view(request)

        custom = [path("import/", self.admin_site.admin_view(import_view), name="members_member_import")]
        return custom + super().get_urls()

    # --- the change page ("member 360") ---

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("home_store", "referred_by")
        field = Member._meta.pk if from_field is None else Member._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (Member.DoesNotExist, ValidationError, ValueError):
            return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        member = getattr(request, "_contact_details_shown", None)
        if member is not None:
            # After, not inside, the page's transaction: a page re-shown with errors rolls that back,
            # yet it showed the contact data in clear all the same.
            self._record_contact_view(request, member)
        return response

    def _record_contact_view(self, request, member) -> bool:
        return services.reveal_contact_details(
            user=request.user,
            member=member,
            channel=ContactDetailView.Channel.ADMIN,
            path=request.path,
            client_ip=client_ip(request),
        )

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (view permission, or an erased profile): contact data stays masked.
            return [
                (
                    None,
                    {
                        "fields": [
                            "member_no",
                            "name",
                            "gender",
                            "phone_shown",
                            "email_shown",
                            "birthday_shown",
                            "home_store",
                            "status",
                            "tag_list",
                            "referral_code",
                            "referred_by",
                            "external_id",
                            "source_channel",
                            "registered_at",
                            "notes",
                        ]
                    },
                ),
                (_("Consents"), {"fields": ["consent_summary"]}),
            ]
        membership = ["home_store", "referred_by", "tags", "external_id", "source_channel", "notes"]
        if obj is not None:
            membership.insert(1, "status")
        contact = ["phone", "email", "birthday"]
        if obj is not None and not services.may_see_contact_details(request.user):
            # Editing a profile without the right to read its contact data: shown masked, kept as is.
            contact = ["phone_shown", "email_shown", "birthday_shown"]
        return [
            (None, {"fields": ["name", "gender", *contact]}),
            (_("Membership"), {"fields": membership}),
            (
                _("Consents"),
                {
                    "fields": list(CONSENT_FIELDS),
                    "description": _(
                        "Tick only what the customer agreed to. Each change is recorded with you as its author."
                    ),
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if not services.may_see_contact_details(request.user):
            return ["referred_by", "phone_shown", "email_shown", "birthday_shown"]
        return ["referred_by"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None and not obj.is_erased else []

    def get_inline_instances(self, request, obj=None):
        # Inlines only add records; a role that may not add one does not get an empty table.
        return [
            inline for inline in super().get_inline_instances(request, obj) if inline.has_add_permission(request, obj)
        ]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        store = staff_store(request.user)
        if store is not None:
            initial.setdefault("home_store", store.pk)
        return initial

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The one place the back office shows a member's contact data in clear; `changeform_view`
            # records it once the page's own transaction is over.
            clear = services.may_see_contact_details(request.user)
            obj.contact_values = masking.contact_values(obj, clear=clear)
            if clear:
                request._contact_details_shown = obj
            # Lazy: computed while the page renders, after a rolled-back POST, never before it.
            context["member360"] = SimpleLazyObject(lambda: self._member360_context(obj))
            context["member360_links"] = self._record_links(request, obj)
            # The loyalty provider's panel (points, tier, ledger), rendered only where the page uses it.
            context["loyalty_panel"] = lambda: loyalty.member_panel(member=obj, request=request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _member360_context(self, member) -> dict:
        m = member_360(member)
        contact = self._shown(member)
        return {
            "m": m,
            "contact": contact,
            "birthday": masking.birthday_display(member.birthday, clear=not contact.masked),
            "consent_rows": [(topic, ConsentTopic(topic).label, granted) for topic, granted in m.consents.items()],
            "classification": member_classification.snapshot(member),
        }

    def _record_links(self, request, member) -> dict[str, str]:
        user = request.user
        links = {}
        for key, model in (
            ("purchases", "purchase"),
            ("service_records", "servicerecord"),
            ("preferences", "preference"),
            ("interactions", "interaction"),
            ("consent_events", "consentevent"),
            ("contact_detail_views", "contactdetailview"),
        ):
            if user.has_perm(f"members.view_{model}"):
                url = reverse(f"admin:members_{model}_changelist", current_app=self.admin_site.name)
                links[key] = f"{url}?member__id__exact={member.pk}"
        if user.has_perm("members.add_purchase") and not member.is_erased:
            url = reverse("admin:members_purchase_add", current_app=self.admin_site.name)
            links["record_purchase"] = f"{url}?member={member.pk}"
        links["loyalty_tools"] = [] if member.is_erased else loyalty.member_tools(user, member)
        return links

    # --- history ---

    def get_historical_record_context_helper(self, request, historical_record):
        return MemberHistoryContext(self.model, historical_record)

    def revert_disabled(self, request, obj=None):
        return True  # a profile changes only through its services

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Viewing an old version shows its contact data in clear: only for those who may edit it
        # and may see contact details, and recorded like any other clear view.
        if request.method != "GET" or not super().has_change_permission(request):
            raise PermissionDenied
        member = self.get_object(request, object_id)
        if member is None or not self._record_contact_view(request, member):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    # --- actions ---

    @admin.action(description=gettext_lazy("Export selected as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        topics = list(ConsentTopic.values)
        header = [
            "member_no",
            "external_id",
            "name",
            "gender",
            "phone",
            "email",
            "birthday",
            "store",
            "status",
            "tags",
            "registered_at",
            "source_channel",
            *(f"consent_{topic}" for topic in topics),
        ]
        members = (
            queryset.select_related("home_store").prefetch_related("tags", "consents").order_by("registered_at", "pk")
        )
        writer = csv.writer(_Echo())

        def rows():
            yield "\ufeff" + writer.writerow(header)  # the BOM makes Excel read UTF-8 (Chinese names)
            for member in members.iterator(chunk_size=500):
                granted = {consent.topic: consent.granted for consent in member.consents.all()}
                yield writer.writerow(
                    [
                        member.member_no,
                        member.external_id or "",
                        _csv_text(member.name),
                        member.gender,
                        member.phone or "",
                        _csv_text(member.email or ""),
                        member.birthday.isoformat() if member.birthday else "",
                        member.home_store.code if member.home_store else "",
                        member.status,
                        _csv_text(";".join(sorted(tag.name for tag in member.tags.all()))),
                        timezone.localtime(member.registered_at).strftime("%Y-%m-%d %H:%M"),
                        member.source_channel,
                        *("1" if granted.get(topic) else "0" for topic in topics),
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="members-{timezone.localtime():%Y%m%d-%H%M}.csv"'
        return response

    @admin.action(description=gettext_lazy("Export selected as JSON (full data)"), permissions=["export"])
    def export_json(self, request, queryset):
        members = queryset.select_related("home_store", "referred_by").order_by("registered_at", "pk")

        def chunks():
            yield "[\n"
            for index, member in enumerate(members.iterator(chunk_size=200)):
                prefix = ",\n" if index else ""
                yield prefix + json.dumps(member_export(member), ensure_ascii=False, indent=2)
            yield "\n]\n"

        response = StreamingHttpResponse(chunks(), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="members-{timezone.localtime():%Y%m%d-%H%M}.json"'
        return response

    @admin.action(description=gettext_lazy("Erase selected members (irreversible)"), permissions=["erase"])
    def erase_selected(self, request, queryset):
        queryset = queryset.select_related("home_store").order_by("pk")
        if request.POST.get("post") == "yes":
            erased = 0
            for member in queryset.exclude(status=Member.Status.ERASED):
                # The service also scrubs the name from the admin's own log labels.
                member = services.erase_member(member=member, actor=request.user)
                self.log_change(request, member, _("Erased (anonymised)."))
                erased += 1
            self.message_user(
                request,
                ngettext("%(count)d member erased.", "%(count)d members erased.", erased) % {"count": erased},
                messages.SUCCESS,
            )
            return None
        members = list(queryset)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase members?"),
            "subtitle": None,
            "opts": self.opts,
            "members": members,
            "to_erase": [member for member in members if not member.is_erased],
            "already_erased": [member for member in members if member.is_erased],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "erase_selected",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/members/member/erase_confirmation.html", context)


# --- purchases -------------------------------------------------------------------------------


class PurchaseItemInline(admin.TabularInline):
    model = PurchaseItem
    fields = ["sku", "name", "category", "quantity", "unit_price", "discount", "line_total"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Purchase)
class PurchaseAdmin(MemberScopedAdminMixin, admin.ModelAdmin):
    """Purchases are recorded (never edited here): points and reports depend on them."""

    list_display = [
        "external_ref",
        "ordered_at",
        "member",
        "store",
        "channel",
        "payment_method",
        "total",
        "refunded_total",
    ]
    list_select_related = ["member", "store"]
    list_filter = [MemberListFilter, "store", "channel", "payment_method", "ordered_at"]
    search_fields = ["=external_ref", "=member__member_no"]
    search_help_text = gettext_lazy("Exact order reference or member number.")
    show_full_result_count = False
    inlines = [PurchaseItemInline]
    readonly_fields = [
        "external_ref",
        "member",
        "store",
        "channel",
        "payment_method",
        "ordered_at",
        "subtotal",
        "discount_total",
        "total",
        "refunded_total",
        "created_at",
    ]
    fields = readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return self.record_purchase_view(request, extra_context)

    def record_purchase_view(self, request, extra_context=None):
        """The counter's page: a purchase header and its lines, saved by `record_purchase`."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        site = self.admin_site
        if request.method == "POST":
            form = RecordPurchaseForm(request.POST, admin_site=site)
            formset = PurchaseLineFormSet(request.POST, prefix="lines")
            form_ok = form.is_valid()
            if formset.is_valid() and form_ok:
                purchase = self._record(request, form, formset)
                if purchase is not None:
                    return self._after_record(request, purchase)
        else:
            initial = RecordPurchaseForm.default_initial(request.user, request.GET.get("member"))
            form = RecordPurchaseForm(initial=initial, admin_site=site)
            formset = PurchaseLineFormSet(prefix="lines")
        context = {
            **site.each_context(request),
            "title": _("Record purchase"),
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "formset": formset,
            "media": self.media + form.media + formset.media,
            "errors": bool(form.errors or formset.total_error_count()),
            **(extra_context or {}),
        }
        request.current_app = site.name
        return TemplateResponse(request, "admin/members/purchase/record_purchase.html", context)

    def _record(self, request, form, formset) -> Purchase | None:
        data = form.cleaned_data
        items = [line.line() for line in formset.forms if line.has_changed() and line.cleaned_data]
        external_ref = (data.get("external_ref") or "").strip()
        if not external_ref:
            external_ref = f"ADM-{timezone.localtime():%Y%m%d%H%M%S}-{secrets.token_hex(3).upper()}"
        try:
            # Through the loyalty hook: with `rewards` installed this also earns the points.
            return loyalty.record_purchase(
                member=data["member"],
                external_ref=external_ref,
                ordered_at=data["ordered_at"],
                items=items,
                store=data.get("store"),
                channel=data["channel"],
                payment_method=data.get("payment_method") or "",
                total=data.get("total"),
                actor=request.user,
            )
        except ValidationError as error:
            if hasattr(error, "error_dict") and "items" in error.error_dict:
                formset.non_form_errors().extend(
                    message for err in error.error_dict.pop("items") for message in err.messages
                )
                if not error.error_dict:
                    return None
            add_service_errors(form, error)
        except DomainError as error:
            duplicate = error.code in ("duplicate_purchase", "idempotency_conflict")
            form.add_error("external_ref" if duplicate else None, error.detail)
        return None

    def _after_record(self, request, purchase):
        self.log_addition(request, purchase, [{"added": {}}])
        self.message_user(
            request,
            _("Purchase %(ref)s of %(total)s CNY recorded for %(member)s.")
            % {"ref": purchase.external_ref, "total": purchase.total, "member": purchase.member.member_no},
            messages.SUCCESS,
        )
        if "_addanother" in request.POST:
            url = reverse("admin:members_purchase_add", current_app=self.admin_site.name)
            return HttpResponseRedirect(f"{url}?member={purchase.member_id}")
        if request.user.has_perm("members.view_member"):
            return HttpResponseRedirect(
                reverse("admin:members_member_change", args=[purchase.member_id], current_app=self.admin_site.name)
            )
        return HttpResponseRedirect(
            reverse("admin:members_purchase_change", args=[purchase.pk], current_app=self.admin_site.name)
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


@admin.register(ServiceRecord)
class ServiceRecordAdmin(MemberRecordAdmin):
    add_form = ServiceRecordAddForm
    list_display = ["opened_at", "member", "kind", "status", "store", "staff", "summary", "closed_at"]
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
    list_display = ["occurred_at", "member", "kind", "channel", "direction", "summary", "store", "staff"]
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
    """Who saw which member's contact details in clear: append-only, written by
    `reveal_contact_details`; managers read it (`view_contactdetailview`), nobody edits it."""

    list_display = ["at", "username", "member", "channel", "client_ip", "path"]
    list_select_related = ["member"]
    list_filter = [MemberListFilter, ("user", admin.RelatedOnlyFieldListFilter), "channel", "at"]
    search_fields = ["=member__member_no", "=username"]
    search_help_text = gettext_lazy("Exact member number or username.")
    show_full_result_count = False
    fields = ["at", "member", "user", "username", "channel", "path", "client_ip"]
    readonly_fields = fields


# --- reference tables ------------------------------------------------------------------------


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "phone", "is_active"]
    list_filter = ["is_active", "city"]
    search_fields = ["code", "name", "city"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent"]
    list_select_related = ["parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "unit_price", "is_active"]
    list_select_related = ["category"]
    list_filter = ["is_active", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sku", "name"]
    autocomplete_fields = ["category"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="member_count")
    def member_count(self, tag):
        return tag.member_count
