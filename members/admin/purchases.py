"""Purchases in the back office: the list, the lines, and the Record purchase page."""

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_crm.errors import DomainError
from members import loyalty
from members.admin._common import MemberListFilter, MemberScopedAdminMixin
from members.forms import (
    PurchaseLineFormSet,
    RecordPurchaseForm,
    add_service_errors,
)
from members.models import (
    Purchase,
    PurchaseItem,
)

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
        "points_value",
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
