"""The member list and the member page (search, export, erase, history, the records inlines)."""

from __future__ import annotations

import csv
import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from simple_history.admin import SimpleHistoryAdmin

from loyalty_crm.netaddr import client_ip
from members import classification_hook as member_classification
from members import loyalty, masking, services
from members.admin._common import (
    ERASE_PERMISSION,
    EXPORT_PERMISSION,
    IMPORT_PERMISSION,
    ImportantDateInline,
    InteractionInline,
    MemberChangeList,
    MemberHistoryContext,
    PlainForeignKeysMixin,
    PreferenceInline,
    ServiceFormAdminMixin,
    ServiceRecordInline,
    TierListFilter,
    staff_store,
)
from members.forms import (
    CONSENT_FIELDS,
    MemberAdminForm,
)
from members.models import (
    ConsentTopic,
    ContactDetailView,
    Member,
)
from members.selectors import member_360, member_export, member_search

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
    inlines = [ServiceRecordInline, PreferenceInline, ImportantDateInline, InteractionInline]
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
            from members.admin.importing import import_members_view

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
                            "wechat_openid",
                        ]
                    },
                ),
                (_("Consents"), {"fields": ["consent_summary"]}),
            ]
        membership = ["home_store", "referred_by", "tags", "external_id", "source_channel", "notes", "wechat_openid"]
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
