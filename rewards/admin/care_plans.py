"""Care plans: the plans (managers edit them as plain forms), plans sold (selling goes through
`sell_care_plan`; a sold plan's page opens a claim through `claim_care_plan`), claims (worked through
`start_` / `settle_` / `reject_care_plan_claim`) and the report (plans sold, claim rate, cost)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from members.models import PurchaseItem
from rewards import selectors_care_plans
from rewards.admin.earning import service_form_page
from rewards.forms import MemberNoField
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale
from rewards.services import care_plans as care_plan_services

REPORT = "rewards.view_care_plan_report"
CANCEL = "rewards.cancel_careplansale"


def _store(user):
    profile = getattr(user, "staff_profile", None)
    return profile.store if profile is not None else None


@admin.register(CarePlan)
class CarePlanAdmin(admin.ModelAdmin):
    """Care plans on sale (鲜花养护计划, extended protection). Plans are never deleted (sales point at
    them): take a plan off sale instead."""

    list_display = ["name", "code", "price", "duration_text", "claims_allowed", "sell_within_days", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    filter_horizontal = ["products", "categories"]

    @admin.display(description=_("duration"))
    def duration_text(self, plan):
        return f"{plan.duration} {plan.get_duration_unit_display()}"

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="rewards_careplan_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm(REPORT):
            extra_context["report_url"] = reverse("admin:rewards_careplan_report")
        return super().changelist_view(request, extra_context)

    def report_view(self, request):
        """Plans sold, revenue, claims, claim rate and the cost of replacements, per plan; two
        queries whatever the number of plans or sales."""
        if not request.user.has_perm(REPORT):
            raise PermissionDenied
        form = ReportForm(request.GET or None)
        dates = form.cleaned_data if form.is_valid() else {}
        rows = selectors_care_plans.care_plan_report(sold_from=dates.get("sold_from"), sold_to=dates.get("sold_to"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Care plan report"),
            "opts": self.opts,
            "form": form,
            "rows": rows,
            "totals": {
                "sold": sum(row.sold for row in rows),
                "revenue": sum((row.revenue for row in rows), 0),
                "claims": sum(row.claims for row in rows),
                "cost": sum((row.cost for row in rows), 0),
            },
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/careplan/report.html", context)


class ReportForm(forms.Form):
    sold_from = forms.DateField(label=_("Sold from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sold_to = forms.DateField(label=_("Sold until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class SellCarePlanForm(forms.Form):
    member = MemberNoField()
    plan = forms.ModelChoiceField(label=_("care plan"), queryset=CarePlan.objects.filter(is_active=True))
    purchase_item = forms.IntegerField(
        label=_("purchase line (id)"), min_value=1, max_value=2**31 - 1,
        help_text=_("The line of the member's purchase the plan covers (shown on the member's purchases)."),
    )  # fmt: skip
    key = forms.CharField(widget=forms.HiddenInput)

    def clean_purchase_item(self):
        item = PurchaseItem.objects.filter(pk=self.cleaned_data["purchase_item"]).first()
        if item is None:
            raise ValidationError(_("No purchase line has this id."))
        return item


class CancelSaleForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for cancelling"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded with the refund."),
    )  # fmt: skip


class ClaimForm(forms.Form):
    description = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)
    key = forms.CharField(widget=forms.HiddenInput)


@admin.register(CarePlanSale)
class CarePlanSaleAdmin(ReadOnlyAdmin):
    """Plans sold. "Add" sells one through `sell_care_plan`; a sold plan's page opens a claim;
    managers cancel and refund one before any claim (`cancel_care_plan_sale`)."""

    list_display = [
        "member",
        "plan",
        "product",
        "starts_on",
        "ends_on",
        "claims_text",
        "price_paid",
        "status",
        "claim_link",
    ]
    list_select_related = ["member", "plan", "product"]
    list_filter = ["status", "plan"]
    actions = ["cancel_and_refund"]
    search_fields = ["member__member_no", "idempotency_key"]
    date_hierarchy = "ends_on"
    show_full_result_count = False
    raw_id_fields = ["member", "purchase_item", "product", "sold_by"]

    @admin.display(description=_("claims used"))
    def claims_text(self, sale):
        return f"{sale.claims_used} / {sale.claims_allowed}"

    @admin.display(description=_("claim"))
    def claim_link(self, sale):
        if sale.is_cancelled:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:rewards_careplansale_claim", args=[sale.pk]), _("Open a claim")
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(CANCEL):
            actions.pop("cancel_and_refund", None)
        return actions

    @admin.action(description=_("Cancel and refund the selected care plan"))
    def cancel_and_refund(self, request, queryset):
        """One plan at a time, on its own page, where the manager gives the reason."""
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, _("Choose exactly one care plan to cancel."), messages.WARNING)
            return None
        return redirect("admin:rewards_careplansale_cancel", chosen[0])

    def cancel_view(self, request, sale_id: int):
        """Cancel a sold plan before any claim and record its price as refunded; a refusal shows its
        reason and changes nothing."""
        if not request.user.has_perm(CANCEL):
            raise PermissionDenied
        sale = get_object_or_404(CarePlanSale.objects.select_related("plan", "member", "product"), pk=sale_id)
        form = CancelSaleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = care_plan_services.cancel_care_plan_sale(
                    sale=sale, reason=form.cleaned_data["reason"], actor=request.user
                )
            except ValidationError as error:
                form.add_error(None, " ".join(error.messages))
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                if result.cancelled:
                    message = _("Care plan “%(plan)s” cancelled: %(amount)s refunded.") % {
                        "plan": sale.plan.name,
                        "amount": f"{result.sale.refunded_amount:.2f}",
                    }
                else:
                    message = _("This care plan was already cancelled.")
                self.message_user(request, message, messages.SUCCESS)
                return redirect("admin:rewards_careplansale_changelist")
        intro = _(
            "%(plan)s for %(product)s, member %(member_no)s, sold for %(price)s: cancelling records the price as "
            "refunded and the plan covers nothing more. Plans with a claim cannot be cancelled."
        ) % {
            "plan": sale.plan.name,
            "product": sale.product.name if sale.product else sale.purchase_item_id,
            "member_no": sale.member.member_no,
            "price": f"{sale.price_paid:.2f}",
        }
        return service_form_page(
            self,
            request,
            form=form,
            title=_("Cancel and refund a care plan"),
            submit_label=_("Cancel and refund"),
            page_class="care-plan-cancel",
            intro=intro,
        )

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("rewards.add_careplansale")

    def get_urls(self):
        return [
            path(
                "<int:sale_id>/claim/", self.admin_site.admin_view(self.claim_view), name="rewards_careplansale_claim"
            ),
            path(
                "<int:sale_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="rewards_careplansale_cancel",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Sell a plan for a purchase line (later than the till, within the plan's days)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"key": f"CPS-{uuid.uuid4().hex}", "purchase_item": request.GET.get("purchase_item")}
        form = SellCarePlanForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                result = care_plan_services.sell_care_plan(
                    member=form.cleaned_data["member"],
                    plan=form.cleaned_data["plan"],
                    purchase_item=form.cleaned_data["purchase_item"],
                    idempotency_key=form.cleaned_data["key"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, " ".join(error.messages))
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                sale = result.sale
                self.message_user(
                    request,
                    _("Care plan “%(plan)s” sold: it covers until %(end)s.")
                    % {"plan": sale.plan.name, "end": sale.ends_on.isoformat()},
                    messages.SUCCESS,
                )
                return redirect("admin:rewards_careplansale_changelist")
        return service_form_page(
            self, request, form=form, title=_("Sell a care plan"), submit_label=_("Sell"), page_class="sell-care-plan"
        )

    def claim_view(self, request, sale_id: int):
        """Open a claim under the sold plan; a refusal shows its reason and records nothing."""
        if not request.user.has_perm("rewards.add_careplanclaim"):
            raise PermissionDenied
        sale = get_object_or_404(CarePlanSale.objects.select_related("plan", "member", "product"), pk=sale_id)
        form = ClaimForm(request.POST or None, initial={"key": f"CPC-{uuid.uuid4().hex}"})
        if request.method == "POST" and form.is_valid():
            try:
                result = care_plan_services.claim_care_plan(
                    sale=sale,
                    description=form.cleaned_data["description"],
                    idempotency_key=form.cleaned_data["key"],
                    store=_store(request.user),
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, " ".join(error.messages))
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                self.message_user(request, _("Claim opened as a service record."), messages.SUCCESS)
                return redirect("admin:rewards_careplanclaim_change", result.claim.pk)
        intro = _(
            "%(plan)s for %(product)s, member %(member_no)s: covers %(start)s – %(end)s, %(left)d claim(s) left."
        ) % {
            "plan": sale.plan.name,
            "product": sale.product.name if sale.product else sale.purchase_item_id,
            "member_no": sale.member.member_no,
            "start": sale.starts_on.isoformat(),
            "end": sale.ends_on.isoformat(),
            "left": sale.claims_left,
        }
        return service_form_page(
            self,
            request,
            form=form,
            title=_("Open a care plan claim"),
            submit_label=_("Open the claim"),
            page_class="care-plan-claim",
            intro=intro,
        )


class HandleClaimForm(forms.Form):
    ACTIONS = [
        ("start", _("Mark in progress")),
        ("settle_product", _("Settle: give the product again (zero-priced line)")),
        ("settle_coupon", _("Settle: issue the plan's replacement coupon")),
        ("settle_none", _("Settle without a replacement")),
        ("reject", _("Reject")),
    ]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("Note or reason"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to reject: the member is told why."),
    )  # fmt: skip


@admin.register(CarePlanClaim)
class CarePlanClaimAdmin(ReadOnlyAdmin):
    """Claims under care plans; each open one is worked on its page (in progress, settled with or
    without a replacement, rejected) through the care-plan services."""

    list_display = ["created_at", "member_no", "plan_name", "status", "replacement", "cost"]
    list_select_related = ["sale__member", "sale__plan"]
    list_filter = ["status", "replacement", "sale__plan"]
    search_fields = ["sale__member__member_no"]
    show_full_result_count = False
    raw_id_fields = ["sale", "service_record", "replacement_purchase", "replacement_coupon", "claimed_by"]

    @admin.display(description=_("member number"))
    def member_no(self, claim):
        return claim.sale.member.member_no

    @admin.display(description=_("care plan"))
    def plan_name(self, claim):
        return claim.sale.plan.name

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("rewards.change_careplanclaim")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        claim = get_object_or_404(
            CarePlanClaim.objects.select_related("sale__plan", "sale__member", "sale__product", "service_record"),
            pk=object_id,
        )
        if not self.has_view_permission(request, claim):
            raise PermissionDenied
        may_handle = self.has_change_permission(request, claim) and claim.status == CarePlanClaim.Status.OPEN
        form = HandleClaimForm(request.POST or None) if may_handle else None
        if request.method == "POST":
            if form is None:
                raise PermissionDenied
            if form.is_valid():
                try:
                    self._handle(request, claim, form.cleaned_data["action"], form.cleaned_data["note"])
                except ValidationError as error:
                    form.add_error(None, " ".join(error.messages))
                except DomainError as error:
                    form.add_error(None, error.detail)
                else:
                    self.message_user(request, _("The claim was updated."), messages.SUCCESS)
                    return redirect("admin:rewards_careplanclaim_change", claim.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Care plan claim"),
            "opts": self.opts,
            "claim": claim,
            "form": form,
            "record_url": reverse("admin:members_servicerecord_change", args=[claim.service_record_id]),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/careplanclaim/handle.html", context)

    def _handle(self, request, claim, action, note):
        if action == "start":
            care_plan_services.start_care_plan_claim(claim=claim, actor=request.user)
        elif action == "reject":
            care_plan_services.reject_care_plan_claim(claim=claim, reason=note, actor=request.user)
        else:
            care_plan_services.settle_care_plan_claim(
                claim=claim,
                replacement=action.removeprefix("settle_"),
                store=_store(request.user),
                note=note,
                actor=request.user,
            )
