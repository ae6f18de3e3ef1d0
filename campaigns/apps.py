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

        from django.db.models.signals import post_save

        from campaigns.automations import on_tier_history_saved
        from rewards.models import TierHistory

        post_save.connect(on_tier_history_saved, sender=TierHistory, dispatch_uid="campaigns-tier-upgrade")
