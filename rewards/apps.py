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

        from members import paid_plan_hook
        from rewards.loyalty import RewardsPaidPlanProvider

        paid_plan_hook.register_provider(RewardsPaidPlanProvider())

        from members import signals as member_signals
        from rewards import receivers

        member_signals.member_registered.connect(receivers.on_member_registered, dispatch_uid="rewards-sign-up")
        member_signals.interaction_recorded.connect(
            receivers.on_interaction_recorded, dispatch_uid="rewards-interaction-bonus"
        )

        from django.db.models.signals import m2m_changed, post_delete, post_save

        from rewards.models import Promotion

        for model, forget in receivers.CACHED_BY_MODEL:
            post_save.connect(forget, sender=model, dispatch_uid=f"forget-{model.__name__}")
            post_delete.connect(forget, sender=model, dispatch_uid=f"del-{model.__name__}")
        m2m_changed.connect(
            receivers.forget_earning_config, sender=Promotion.stores.through, dispatch_uid="forget-promotion-stores"
        )
