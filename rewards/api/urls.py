from django.urls import path

from rewards.api import views

urlpatterns = [
    path("purchases/", views.PurchasePostView.as_view(), name="purchase-post"),
    path("purchases/<int:pk>/refund/", views.PurchaseRefundView.as_view(), name="purchase-refund"),
    path("members/<str:member_no>/points/", views.PointsSummaryView.as_view(), name="member-points"),
    path("members/<str:member_no>/points/adjust/", views.PointsAdjustView.as_view(), name="member-points-adjust"),
    path("members/<str:member_no>/ledger/", views.LedgerView.as_view(), name="member-ledger"),
    path("members/<str:member_no>/tier-history/", views.TierHistoryView.as_view(), name="member-tier-history"),
    path("tiers/", views.TierListView.as_view(), name="tier-list"),
]
