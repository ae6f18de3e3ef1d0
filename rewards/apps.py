from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "rewards"
    verbose_name = _("Points and rewards")

    def ready(self):
        from members import loyalty
        from rewards.loyalty import RewardsLoyaltyProvider

        loyalty.register_provider(RewardsLoyaltyProvider())
