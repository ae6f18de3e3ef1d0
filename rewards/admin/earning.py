"""Earning in the back office: expiry policy, promotions, earning settings, activity bonuses and their awards."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from rewards import services
from rewards.forms import AwardBonusForm, PromotionAdminForm
from rewards.models import (
    ActivityBonus,
    BonusAward,
    EarningSettings,
    ExpiryPolicy,
    PointsPaymentSettings,
    Promotion,
)


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
    return TemplateResponse(request, "admin/service_form.html", context)


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

    list_display = [
        "__str__",
        "min_spend",
        "max_points_per_purchase",
        "max_points_per_day",
        "earn_on_stored_value_bonus",
        "updated_at",
    ]
    fields = ["min_spend", "max_points_per_purchase", "max_points_per_day", "earn_on_stored_value_bonus"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not EarningSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsPaymentSettings)
class PointsPaymentSettingsAdmin(admin.ModelAdmin):
    """The one row of paying with points (rate, cap, minimum, delivery): managers change it (the
    `change_pointspaymentsettings` permission, a manager's only), everyone else reads it."""

    list_display = ["__str__", "points_per_yuan", "max_percent", "min_points", "covers_delivery", "updated_at"]
    fields = ["points_per_yuan", "max_percent", "min_points", "covers_delivery", "delivery_sku"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not PointsPaymentSettings.objects.exists()

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
