from django.urls import path

from rewards.api import care_plan_views, catalogue_views, stored_value_views, views

urlpatterns = [
    path("purchases/", views.PurchasePostView.as_view(), name="purchase-post"),
    path("purchases/batch/", views.PurchaseBatchView.as_view(), name="purchase-batch"),
    path("purchases/<int:pk>/refund/", views.PurchaseRefundView.as_view(), name="purchase-refund"),
    path("members/<str:member_no>/points/", views.PointsSummaryView.as_view(), name="member-points"),
    path("members/<str:member_no>/points/adjust/", views.PointsAdjustView.as_view(), name="member-points-adjust"),
    path("members/<str:member_no>/ledger/", views.LedgerView.as_view(), name="member-ledger"),
    path("members/<str:member_no>/tier-history/", views.TierHistoryView.as_view(), name="member-tier-history"),
    path("tiers/", views.TierListView.as_view(), name="tier-list"),
    path("points/preview/", views.PointsPreviewView.as_view(), name="points-preview"),
    path("membership-plans/", views.MembershipPlanListView.as_view(), name="membership-plan-list"),
    path("members/<str:member_no>/memberships/", views.MemberMembershipsView.as_view(), name="member-memberships"),
    # Reward catalogue, redemptions, coupons, checkout quote (rewards.api.catalogue_views)
    path("rewards/", catalogue_views.RewardListCreateView.as_view(), name="reward-list"),
    path("rewards/<int:pk>/", catalogue_views.RewardDetailView.as_view(), name="reward-detail"),
    path("redemptions/", catalogue_views.RedemptionListCreateView.as_view(), name="redemption-list"),
    path("redemptions/<int:pk>/", catalogue_views.RedemptionDetailView.as_view(), name="redemption-detail"),
    path("redemptions/<int:pk>/cancel/", catalogue_views.RedemptionCancelView.as_view(), name="redemption-cancel"),
    path("coupons/", catalogue_views.CouponListIssueView.as_view(), name="coupon-list"),
    path("coupons/validate/", catalogue_views.CouponValidateView.as_view(), name="coupon-validate"),
    path("coupons/<str:code>/redeem/", catalogue_views.CouponRedeemView.as_view(), name="coupon-redeem"),
    path("coupon-templates/", catalogue_views.CouponTemplateListView.as_view(), name="coupon-template-list"),
    path("checkout/quote/", catalogue_views.CheckoutQuoteView.as_view(), name="checkout-quote"),
    # Stored value (rewards.api.stored_value_views)
    path("members/<str:member_no>/wallet/", stored_value_views.WalletView.as_view(), name="member-wallet"),
    path(
        "members/<str:member_no>/wallet/top-ups/", stored_value_views.TopUpView.as_view(), name="member-wallet-top-up"
    ),
    path(
        "members/<str:member_no>/wallet/payments/",
        stored_value_views.PaymentView.as_view(),
        name="member-wallet-payment",
    ),
    path(
        "members/<str:member_no>/wallet/refunds/", stored_value_views.RefundView.as_view(), name="member-wallet-refund"
    ),
    path(
        "members/<str:member_no>/wallet/cash-out/",
        stored_value_views.CashOutView.as_view(),
        name="member-wallet-cash-out",
    ),
    path(
        "members/<str:member_no>/wallet/adjustments/",
        stored_value_views.AdjustView.as_view(),
        name="member-wallet-adjust",
    ),
    path("members/<str:member_no>/wallet/gifts/", stored_value_views.GiftView.as_view(), name="member-wallet-gift"),
    path(
        "members/<str:member_no>/wallet/gift-claims/",
        stored_value_views.GiftClaimView.as_view(),
        name="member-wallet-gift-claim",
    ),
    # Care plans (rewards.api.care_plan_views)
    path("care-plans/", care_plan_views.CarePlanListCreateView.as_view(), name="care-plan-list"),
    path("care-plans/<int:pk>/", care_plan_views.CarePlanDetailView.as_view(), name="care-plan-detail"),
    path("care-plans/sales/", care_plan_views.CarePlanSaleListCreateView.as_view(), name="care-plan-sale-list"),
    path("care-plans/sales/<int:pk>/", care_plan_views.CarePlanSaleDetailView.as_view(), name="care-plan-sale-detail"),
    path(
        "care-plans/sales/<int:pk>/cancel/",
        care_plan_views.CarePlanSaleCancelView.as_view(),
        name="care-plan-sale-cancel",
    ),
    path(
        "care-plans/sales/<int:pk>/claims/",
        care_plan_views.CarePlanClaimCreateView.as_view(),
        name="care-plan-claim-create",
    ),
    path("wallet/top-up-rules/", stored_value_views.TopUpRuleListView.as_view(), name="top-up-rule-list"),
]
