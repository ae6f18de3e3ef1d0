"""How members qualify for tiers: the one-row policy managers edit."""

from django.contrib import admin

from loyalty_crm.admin_base import SingletonAdmin
from rewards.models import TierPolicy


@admin.register(TierPolicy)
class TierPolicyAdmin(SingletonAdmin):
    """How members qualify for tiers: one row (created by a data migration), edited by managers."""

    list_display = ["__str__", "grace_days", "downgrade", "updated_at"]
    fields = ["basis", "window_months", "grace_days", "downgrade"]

    def load_row(self):
        return TierPolicy.objects.filter(pk=TierPolicy.SINGLETON_ID).first()  # seeded by a data migration
