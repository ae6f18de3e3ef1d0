from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class LoyaltyAdminSite(admin.AdminSite):
    site_header = _("Loyalty CRM")
    site_title = _("Loyalty CRM")
    index_title = _("Back office")
