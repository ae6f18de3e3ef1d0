from axes import apps as axes_apps
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class LoyaltyAdminConfig(admin_apps.AdminConfig):
    """Installs the project's admin site (header, dashboard) as `django.contrib.admin`."""

    default = False
    default_site = "loyalty_crm.admin_site.LoyaltyAdminSite"


class LoyaltyCrmConfig(AppConfig):
    default = True
    name = "loyalty_crm"
    verbose_name = _("Loyalty CRM")

    def ready(self):
        # Every ModelSerializer and FilterSet reads dates and datetimes through the project's
        # fields (loyalty_crm.inputs' rules).
        from loyalty_crm.api import fields, filters

        fields.install()
        filters.install()


class LockoutConfig(axes_apps.AppConfig):
    """django-axes (the sign-in lockout) under a name staff understand; see login_lockout.py."""

    verbose_name = _("Sign-in lockout")
