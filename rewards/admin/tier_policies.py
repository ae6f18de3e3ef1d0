"""How members qualify for tiers: the one-row policy managers edit."""

from django.contrib import admin
from django.shortcuts import redirect

from rewards.models import (
    TierPolicy,
)


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
