from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from campaigns.providers import ScoreClassificationProvider
        from members import classification

        classification.register_provider(ScoreClassificationProvider())
        from campaigns import referral_receivers
        from members import signals as member_signals

        member_signals.purchase_recorded.connect(
            referral_receivers.on_purchase_recorded, dispatch_uid="campaigns-referral-and-partner-offers"
        )
