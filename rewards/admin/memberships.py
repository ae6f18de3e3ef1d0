"""Paid membership plans and subscriptions (selling one goes through the service)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from loyalty_crm.errors import DomainError
from rewards import services
from rewards.admin.earning import service_form_page
from rewards.forms import SellMembershipForm
from rewards.models import (
    MembershipPlan,
    MembershipSubscription,
)


@admin.register(MembershipPlan)
class MembershipPlanAdmin(admin.ModelAdmin):
    """Paid membership plans (付费会员). Plans are never deleted (memberships point at them): take a
    plan off sale instead."""

    list_display = [
        "code",
        "display_name",
        "price",
        "duration_months",
        "points_multiplier",
        "free_delivery",
        "is_active",
    ]
    list_display_links = ["code"]
    list_filter = ["is_active"]

    @admin.display(description=_("name"))
    def display_name(self, plan):
        return plan.display_name

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MembershipSubscription)
class MembershipSubscriptionAdmin(admin.ModelAdmin):
    """Memberships sold. Read-only rows; "Add" sells one through `buy_membership`, and an action
    cancels through `cancel_membership`."""

    list_display = ["member", "plan", "starts_on", "ends_on", "status", "price_paid", "external_ref", "sold_by"]
    list_select_related = ["member", "plan", "sold_by"]
    list_filter = ["status", "plan"]
    search_fields = ["member__member_no", "external_ref"]
    date_hierarchy = "ends_on"
    show_full_result_count = False
    actions = ["cancel_action"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("rewards.change_membershipsubscription")

    @admin.action(description=_("Cancel the selected memberships"), permissions=["cancel"])
    def cancel_action(self, request, queryset):
        cancelled = refused = 0
        for subscription in queryset.order_by("pk"):
            try:
                services.cancel_membership(subscription=subscription, actor=request.user)
            except DomainError:
                refused += 1
            else:
                cancelled += 1
        self.message_user(request, _("%(count)d memberships cancelled.") % {"count": cancelled}, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                _("%(count)d were not active and stay as they were.") % {"count": refused},
                messages.WARNING,
            )

    def add_view(self, request, form_url="", extra_context=None):
        """Sell a plan: the form goes to `buy_membership`, never straight into the table."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SellMembershipForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = services.buy_membership(
                    member=form.cleaned_data["member"],
                    plan=form.cleaned_data["plan"],
                    external_ref=form.cleaned_data["external_ref"],
                    starts_on=form.cleaned_data["starts_on"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                subscription = result.subscription
                self.message_user(
                    request,
                    _("Membership “%(plan)s” for member %(member_no)s runs from %(start)s to %(end)s.")
                    % {
                        "plan": subscription.plan,
                        "member_no": subscription.member.member_no,
                        "start": subscription.starts_on.isoformat(),
                        "end": subscription.ends_on.isoformat(),
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:rewards_membershipsubscription_changelist")
        return service_form_page(
            self,
            request,
            form=form,
            title=_("Sell a membership"),
            submit_label=_("Sell"),
            page_class="sell-membership",
        )


# The reward catalogue, coupons and redemptions (with the counter's "Redeem a reward" page).
