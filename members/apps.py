from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "members"
    verbose_name = _("Customer profiles")

    def ready(self):
        # The stores held in each process (members.selectors.store_by_code) are reloaded by every
        # process after a store is saved or deleted.
        from django.db.models.signals import post_delete, post_save

        from loyalty_crm import local_cache
        from members.models import Store
        from members.selectors import STORES_CACHE

        forget = local_cache.forgetter(STORES_CACHE)
        post_save.connect(forget, sender=Store, weak=False, dispatch_uid="members-stores-cache-save")
        post_delete.connect(forget, sender=Store, weak=False, dispatch_uid="members-stores-cache-delete")
