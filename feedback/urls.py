"""Public feedback pages (no account), and the staff-only view of customers' photos."""

from django.urls import path

from feedback import survey_views, views

app_name = "feedback"

urlpatterns = [
    path("feedback/", views.feedback_form, name="form"),
    path("feedback/thanks/<str:ticket_no>/", views.feedback_thanks, name="thanks"),
    path("feedback/attachments/<int:pk>/", views.attachment_view, name="attachment"),
    path("feedback/t/<str:token>/", views.ticket_page, name="ticket_page"),
    path("survey/nps/<str:token>/", views.nps_survey, name="nps_survey"),
    path("survey/s/<str:token>/", survey_views.designed_survey, name="designed_survey"),
    path("survey/<str:token>/", views.csat_survey, name="survey"),
]
