"""Back office for points and tiers. Money-like rows are read-only here; changes go through services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from rewards import services
from rewards.forms import AdjustPointsForm, AwardBonusForm, PromotionAdminForm, SellMembershipForm
from rewards.models import (
    ActivityBonus,
    BalanceCorrection,
    BonusAward,
    EarningSettings,
    EarnRule,
    ExpiryPolicy,
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
    Promotion,
    Tier,
    TierHistory,
    TierPolicy,
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


@admin.register(ExpiryPolicy)
class ExpiryPolicyAdmin(admin.ModelAdmin):
    """The points expiry policy. One row is active; a change applies to points earned from then on."""

    list_display = ["__str__", "kind", "months", "is_active", "updated_at"]
    list_filter = ["is_active"]
    fields = ["kind", "months", "is_active"]

    def has_delete_permission(self, request, obj=None):
        # Keep the history of policies; switch by making another row the active one.
        return False


def service_form_page(model_admin, request, *, form, title, submit_label, page_class, intro=""):
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "form": form,
        "media": model_admin.media + form.media,
        "errors": bool(form.errors),
        "submit_label": submit_label,
        "page_class": page_class,
        "intro": intro,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/rewards/service_form.html", context)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    """Time-limited promotions: a multiplier or fixed bonus points, in chosen stores and channels."""

    form = PromotionAdminForm
    list_display = ["name", "kind", "multiplier", "bonus_points", "starts_at", "ends_at", "store_count", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    date_hierarchy = "starts_at"
    filter_horizontal = ["stores"]
    fields = ["name", "kind", "multiplier", "bonus_points", "starts_at", "ends_at", "stores", "channels", "is_active"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_store_count=Count("stores"))

    @admin.display(description=_("stores"), ordering="_store_count")
    def store_count(self, promotion):
        return promotion._store_count or _("all")


@admin.register(EarningSettings)
class EarningSettingsAdmin(admin.ModelAdmin):
    """The one row of purchase-wide limits (minimum spend, caps)."""

    list_display = ["__str__", "min_spend", "max_points_per_purchase", "max_points_per_day", "updated_at"]
    fields = ["min_spend", "max_points_per_purchase", "max_points_per_day"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not EarningSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ActivityBonus)
class ActivityBonusAdmin(admin.ModelAdmin):
    """The activity bonuses (one per activity, seeded): managers change points, limit, active."""

    list_display = ["__str__", "points", "limit", "is_active", "updated_at"]
    list_editable = []
    fields = ["kind", "points", "limit", "is_active"]
    readonly_fields = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BonusAward)
class BonusAwardAdmin(ReadOnlyAdmin):
    """Bonuses given (read-only); managers award one by hand through `award_bonus`."""

    list_display = ["awarded_at", "member", "bonus", "points", "period_key", "reference", "actor"]
    list_select_related = ["member", "bonus", "actor"]
    list_filter = ["bonus"]
    search_fields = ["member__member_no", "reference"]
    show_full_result_count = False

    def has_award_permission(self, request):
        return request.user.has_perm("rewards.award_bonus")

    def get_urls(self):
        custom = [path("award/", self.admin_site.admin_view(self.award_view), name="rewards_bonusaward_award")]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_award": self.has_award_permission(request)}
        return super().changelist_view(request, extra_context)

    def award_view(self, request):
        if not self.has_award_permission(request):
            raise PermissionDenied
        form = AwardBonusForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = services.award_bonus(
                    member=form.cleaned_data["member"],
                    kind=form.cleaned_data["kind"],
                    reference=form.cleaned_data["reference"],
                    actor=request.user,
                    strict=True,
                )
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                self.message_user(
                    request,
                    _("%(points)d bonus points given to member %(member_no)s; the balance is now %(balance)d.")
                    % {
                        "points": result.points,
                        "member_no": form.cleaned_data["member"].member_no,
                        "balance": result.points_balance,
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:rewards_bonusaward_changelist")
        return service_form_page(
            self,
            request,
            form=form,
            title=_("Award a bonus"),
            submit_label=_("Award the bonus"),
            page_class="award-bonus",
            intro=_("Each activity bonus is given at most once per its period; the ledger records your name."),
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
from rewards import admin_catalogue  # noqa: E402, F401


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
