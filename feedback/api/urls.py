from django.urls import include, path
from rest_framework.routers import SimpleRouter

from feedback.api import survey_views, views

router = SimpleRouter()
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("surveys", survey_views.SurveyViewSet, basename="survey")

urlpatterns = [
    path("feedback/", views.FeedbackSubmitView.as_view(), name="feedback-submit"),
    path("", include(router.urls)),
]
