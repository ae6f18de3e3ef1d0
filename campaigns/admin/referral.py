"""Admin of the referral programme: its settings (one row), the rewards given (read-only) and
the referrers with their counts."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.models import ReferralProgramme, ReferralReward, Referrer
from campaigns.selectors.referrals import referrer_counts
from loyalty_crm.admin_base import ReadOnlyAdmin, SingletonAdmin


@admin.register(ReferralProgramme)
class ReferralProgrammeAdmin(SingletonAdmin):
    """The programme's one row: the list opens it directly."""

    fieldsets = [
        (None, {"fields": ["is_active"]}),
        (
            _("The referrer gets"),
            {"fields": ["referrer_points_mode", "referrer_points", "referrer_percent", "referrer_coupon_template"]},
        ),
        (_("The referred member gets"), {"fields": ["referred_points", "referred_coupon_template"]}),
    ]
    autocomplete_fields = []

    def load_row(self):
        return ReferralProgramme.load()

    def response_change(self, request, obj):
        self.message_user(request, _("The referral programme was saved."))
        return redirect(reverse("admin:campaigns_referralprogramme_change", args=[obj.pk]))


@admin.register(ReferralReward)
class ReferralRewardAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "referred",
        "referrer",
        "status",
        "purchase_ref",
        "referrer_points",
        "referred_points",
        "referrer_coupon",
        "referred_coupon",
    ]
    list_select_related = ["referred", "referrer", "purchase", "referrer_coupon", "referred_coupon"]
    list_filter = ["status", "created_at"]
    search_fields = ["referred__member_no", "referrer__member_no"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    @admin.display(description=_("first purchase"), ordering="purchase__external_ref")
    def purchase_ref(self, obj):
        return f"{obj.purchase.external_ref} (¥{obj.purchase.total})"


@admin.register(Referrer)
class ReferrerAdmin(ReadOnlyAdmin):
    """Members who referred someone, with how many they referred and how many were rewarded."""

    list_display = ["member_no", "name", "referral_code", "referred_count", "rewarded_count", "referrer_points_total"]
    search_fields = ["member_no", "referral_code"]
    show_full_result_count = False

    def get_queryset(self, request):
        referred = Referrer.objects.filter(referred_by=OuterRef("pk"))
        queryset = referrer_counts(self.model._default_manager.filter(Exists(referred)))
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ["-referred_count", "member_no"]

    @admin.display(description=_("referred"), ordering="referred_count")
    def referred_count(self, obj):
        return obj.referred_count

    @admin.display(description=_("rewarded"), ordering="rewarded_count")
    def rewarded_count(self, obj):
        return obj.rewarded_count

    @admin.display(description=_("referrer's points"), ordering="referrer_points_total")
    def referrer_points_total(self, obj):
        return obj.referrer_points_total
