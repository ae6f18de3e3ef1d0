from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("loyalty_crm.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("m/", include("loyalty_crm.centre.urls")),
    path("", include("feedback.urls")),
    path("", include("campaigns.urls")),
]

# JSON under /api/ for paths no route matches (an `{id}` that is not a number), HTML elsewhere.
handler404 = "loyalty_crm.api.exceptions.page_not_found"
