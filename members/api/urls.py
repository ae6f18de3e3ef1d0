from django.urls import include, path
from rest_framework.routers import SimpleRouter

from members.api import views

router = SimpleRouter()
router.register("members", views.MemberViewSet, basename="member")

records = SimpleRouter()
records.register("service-records", views.ServiceRecordViewSet, basename="member-service-record")
records.register("preferences", views.PreferenceViewSet, basename="member-preference")
records.register("interactions", views.InteractionViewSet, basename="member-interaction")
records.register("purchases", views.MemberPurchaseViewSet, basename="member-purchase")

urlpatterns = [
    path("", include(router.urls)),
    path("members/<str:member_no>/", include(records.urls)),
]
