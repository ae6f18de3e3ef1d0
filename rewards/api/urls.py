from django.urls import path

from rewards.api import views

urlpatterns = [
    path("purchases/", views.PurchasePostView.as_view(), name="purchase-post"),
    path("purchases/<int:pk>/refund/", views.PurchaseRefundView.as_view(), name="purchase-refund"),
    path("members/<str:member_no>/points/", views.PointsSummaryView.as_view(), name="member-points"),
    path("members/<str:member_no>/points/adjust/", views.PointsAdjustView.as_view(), name="member-points-adjust"),
    path("members/<str:member_no>/ledger/", views.LedgerView.as_view(), name="member-ledger"),
    path("tiers/", views.TierListView.as_view(), name="tier-list"),
    path("points/preview/", views.PointsPreviewView.as_view(), name="points-preview"),
    path("membership-plans/", views.MembershipPlanListView.as_view(), name="membership-plan-list"),
    path("members/<str:member_no>/memberships/", views.MemberMembershipsView.as_view(), name="member-memberships"),
]
