"""Back office for points and tiers. Money-like rows are read-only here; changes go through services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from rewards.models import EarnRule, LedgerEntry, PointsAccount, PointsLot, Tier, TierHistory


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
    list_display = ["member", "balance", "lifetime_earned", "lifetime_spend", "tier", "updated_at"]
    list_select_related = ["member", "tier"]
    list_filter = ["tier"]
    search_fields = ["member__member_no"]
    show_full_result_count = False


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
    list_display = ["at", "member", "from_tier", "to_tier", "reason", "purchase"]
    list_select_related = ["member", "from_tier", "to_tier", "purchase"]
    list_filter = ["reason"]
    show_full_result_count = False
