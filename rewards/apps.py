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

        from members import signals as member_signals
        from rewards import receivers

        member_signals.member_registered.connect(receivers.on_member_registered, dispatch_uid="rewards-sign-up")
        member_signals.interaction_recorded.connect(
            receivers.on_interaction_recorded, dispatch_uid="rewards-interaction-bonus"
        )
