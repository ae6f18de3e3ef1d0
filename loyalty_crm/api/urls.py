"""Every app's API under /api/v1/ (docs/api.md)."""

from django.urls import include, path

urlpatterns = [
    path("me/", include("loyalty_crm.centre.api_urls")),
    path("", include("members.api.urls")),
    path("", include("rewards.api.urls")),
    path("", include("feedback.api.urls")),
    path("", include("campaigns.api.urls")),
]
