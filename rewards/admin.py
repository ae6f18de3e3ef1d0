"""Back office for points and tiers. Money-like rows are read-only here; changes go through services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from loyalty_crm.errors import DomainError
from rewards import services
from rewards.forms import AdjustPointsForm
from rewards.models import (
    EarnRule,
    ExpiryPolicy,
    LedgerEntry,
    PointsAccount,
    PointsLot,
    Tier,
    TierHistory,
    TierPolicy,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by `rewards.services`: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    list_display = ["name", "kind", "rate", "product", "category", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["product", "category"]
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
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/pointsaccount/adjust_points.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "kind", "points", "balance_after", "purchase", "reason", "actor"]
    list_select_related = ["member", "purchase", "actor"]
    list_filter = ["kind"]
    search_fields = ["member__member_no", "purchase__external_ref"]
    show_full_result_count = False


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


@admin.register(ExpiryPolicy)
class ExpiryPolicyAdmin(admin.ModelAdmin):
    """The points expiry policy. One row is active; a change applies to points earned from then on."""

    list_display = ["__str__", "kind", "months", "is_active", "updated_at"]
    list_filter = ["is_active"]
    fields = ["kind", "months", "is_active"]

    def has_delete_permission(self, request, obj=None):
        # Keep the history of policies; switch by making another row the active one.
        return False


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    """How members qualify for tiers: one row (created by a data migration), edited by managers."""

    list_display = ["__str__", "grace_days", "downgrade", "updated_at"]
    fields = ["basis", "window_months", "grace_days", "downgrade"]

    def has_add_permission(self, request):
        return False  # a single row, seeded by the data migration

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: its list is just a detour to its page.
        policy = TierPolicy.objects.filter(pk=TierPolicy.SINGLETON_ID).first()
        if policy is not None and self.has_view_or_change_permission(request, policy):
            return redirect("admin:rewards_tierpolicy_change", policy.pk)
        return super().changelist_view(request, extra_context)
