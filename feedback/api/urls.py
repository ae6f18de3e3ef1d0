from django.urls import include, path
from rest_framework.routers import SimpleRouter

from feedback.api import views

router = SimpleRouter()
router.register("tickets", views.TicketViewSet, basename="ticket")

urlpatterns = [
    path("feedback/", views.FeedbackSubmitView.as_view(), name="feedback-submit"),
    path("", include(router.urls)),
]
