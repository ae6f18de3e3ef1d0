from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from campaigns import event_links, personal_variables
        from campaigns.channels import checks  # noqa: F401 (registers the SMS provider deploy checks)

        personal_variables.register(event_links.EVENT_LINK)  # {{ event_link }} of event invitations
        from campaigns.providers import ScoreClassificationProvider
        from members import classification_hook

        classification_hook.register_provider(ScoreClassificationProvider())
        from campaigns import recommendation_variable

        recommendation_variable.register()  # {{ recommendations }}
        from campaigns.channels import send_otp
        from members import code_sender

        code_sender.register_sender(send_otp)  # members.services.otp sends sign-in codes through it
        from campaigns import referral_receivers
        from members import signals as member_signals

        member_signals.purchase_recorded.connect(
            referral_receivers.on_purchase_recorded, dispatch_uid="campaigns-referral-and-partner-offers"
        )
        member_signals.purchases_recorded.connect(
            referral_receivers.on_purchases_recorded, dispatch_uid="campaigns-referral-and-partner-offers-bulk"
        )

        from django.db.models.signals import post_save

        from campaigns.services import automations
        from rewards import signals as reward_signals
        from rewards.models import TierHistory

        post_save.connect(automations.on_tier_history_saved, sender=TierHistory, dispatch_uid="campaigns-tier-upgrade")
        from members.models import Holiday

        post_save.connect(automations.on_holiday_saved, sender=Holiday, dispatch_uid="campaigns-holiday-automation")
        member_signals.member_registered.connect(automations.on_member_registered, dispatch_uid="campaigns-welcome")
        reward_signals.membership_renewal_due.connect(
            automations.on_membership_renewal_due, dispatch_uid="campaigns-renewal-reminder"
        )

        from django.db.models.signals import post_delete

        # Whether tier upgrades are congratulated, held in each process (automations.congratulates_upgrades):
        from campaigns.models import Automation, Campaign, Partner, PartnerOffer
        from campaigns.selectors.partners import PARTNER_OFFERS_CACHE
        from loyalty_crm import local_cache

        # An automation's save or delete, or a campaign's delete (which empties its automation's
        # campaign), changes it; a campaign's save does not.
        forget_upgrades = local_cache.forgetter(automations.TIER_UPGRADE_CACHE)
        for model, signals in ((Automation, (post_save, post_delete)), (Campaign, (post_delete,))):
            for signal in signals:
                uid = f"campaigns-tier-upgrade-{model.__name__}"
                signal.connect(forget_upgrades, sender=model, weak=False, dispatch_uid=uid)

        # The active partner offers held in each process (selectors.partners.may_have_offers).
        forget_offers = local_cache.forgetter(PARTNER_OFFERS_CACHE)
        for model in (Partner, PartnerOffer):
            for signal in (post_save, post_delete):
                uid = f"campaigns-offers-{model.__name__}"
                signal.connect(forget_offers, sender=model, weak=False, dispatch_uid=uid)

        from campaigns.services import surveys as survey_links

        survey_links.register()  # {{ survey_link }}: the campaign's questionnaire, one link per member
