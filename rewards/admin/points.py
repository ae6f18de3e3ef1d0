"""Points and tiers in the back office: tiers, earn rules, accounts (with a manager's adjustment),
the ledger, lots, tier history and corrections. Money-like rows are read-only; changes go through
services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from rewards import services
from rewards.forms import AdjustPointsForm
from rewards.models import (
    BalanceCorrection,
    EarnRule,
    LedgerEntry,
    PointsAccount,
    PointsLot,
    Tier,
    TierHistory,
)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["rank", "code", "display_name", "threshold", "discount_percent", "free_delivery"]
    list_display_links = ["code"]
    ordering = ["rank"]

    @admin.display(description=_("name"))
    def display_name(self, tier):
        return tier.display_name

    def has_delete_permission(self, request, obj=None):
        # Accounts and history point at tiers (PROTECT); retire a tier by raising its threshold.
        return False


@admin.register(EarnRule)
class EarnRuleAdmin(admin.ModelAdmin):
    """Base rate, product/category multipliers and tier multipliers (none per tier by default)."""

    list_display = ["name", "kind", "rate", "product", "category", "tier", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["product", "category", "tier"]
    raw_id_fields = ["product", "category"]


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdmin):
    list_display = ["member", "balance", "lifetime_earned", "lifetime_spend", "tier", "below_since", "updated_at"]
    list_select_related = ["member", "tier"]
    list_filter = ["tier"]
    search_fields = ["member__member_no"]
    show_full_result_count = False
    actions = ["adjust_points_action"]

    # Manual adjustments (managers only, `rewards.adjust_points`): a page of its own, linked from the
    # account's page (templates/admin/rewards/pointsaccount/change_form.html) and from an action.

    def has_adjust_permission(self, request, obj=None):
        return request.user.has_perm("rewards.adjust_points")

    def get_urls(self):

        custom = [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_points_view),
                name="rewards_pointsaccount_adjust",
            )
        ]
        return custom + super().get_urls()

    @admin.action(description=_("Adjust points of the selected account"), permissions=["adjust"])
    def adjust_points_action(self, request, queryset):

        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, _("Select exactly one account to adjust."), messages.WARNING)
            return None
        return redirect("admin:rewards_pointsaccount_adjust", ids[0])

    def adjust_points_view(self, request, object_id):
        """Add or remove points by hand through `rewards.services.adjust_points`, with a reason."""

        if not self.has_adjust_permission(request):
            raise PermissionDenied
        account = get_object_or_404(PointsAccount.objects.select_related("member", "tier"), pk=object_id)
        form = AdjustPointsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = services.adjust_points(
                    member=account.member,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            except DomainError as error:
                form.add_error("points", error.detail)
            else:
                self.message_user(
                    request,
                    _("%(points)+d points recorded for member %(member_no)s; the balance is now %(balance)d.")
                    % {
                        "points": form.cleaned_data["points"],
                        "member_no": account.member.member_no,
                        "balance": result.points_balance,
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:rewards_pointsaccount_change", account.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points"),
            "subtitle": str(account.member),
            "opts": self.opts,
            "original": account,
            "account": account,
            "form": form,
            "errors": bool(form.errors),
            "page_class": "adjust-points",
            "submit_label": _("Record adjustment"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/pointsaccount/adjust_points.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "kind", "points", "balance_after", "purchase", "reason_display", "actor"]
    list_select_related = ["member", "purchase", "actor"]
    list_filter = ["kind", "reason_code"]
    search_fields = ["member__member_no", "purchase__external_ref"]
    show_full_result_count = False

    @admin.display(description=_("reason"))
    def reason_display(self, entry):
        """In the reader's language, whatever the language of the writer (`rewards.ledger_reasons`)."""
        return entry.reason_text


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ["entry", "account", "points", "remaining", "expired", "expires_on"]
    list_select_related = ["entry", "account"]
    show_full_result_count = False


@admin.register(TierHistory)
class TierHistoryAdmin(ReadOnlyAdmin):
    list_display = ["at", "member", "from_tier", "to_tier", "reason", "note", "purchase"]
    list_select_related = ["member", "from_tier", "to_tier", "purchase"]
    list_filter = ["reason"]
    search_fields = ["member__member_no"]
    show_full_result_count = False

    @admin.display(description=_("qualifying figure"))
    def note(self, change):
        return change.note


@admin.register(BalanceCorrection)
class BalanceCorrectionAdmin(ReadOnlyAdmin):
    """Accounts corrected to their ledger by `recompute_balances --fix` (managers read them)."""

    list_display = [
        "created_at", "member", "balance_before", "balance_after", "lifetime_earned_before",
        "lifetime_earned_after", "actor",
    ]  # fmt: skip
    list_select_related = ["member", "actor"]
    search_fields = ["member__member_no"]
    show_full_result_count = False
