from django.urls import path

from campaigns.api import views

urlpatterns = [
    path("segments/", views.SegmentListView.as_view(), name="segment-list"),
    path("segments/<int:pk>/", views.SegmentDetailView.as_view(), name="segment-detail"),
    path("segments/<int:pk>/export/", views.SegmentExportView.as_view(), name="segment-export"),
]
