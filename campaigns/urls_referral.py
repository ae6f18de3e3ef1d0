"""URLs of the referral and partner API, included under /api/v1/."""

from django.urls import path

from campaigns import api_referral

urlpatterns = [
    path("members/<str:member_no>/referrals/", api_referral.MemberReferralsView.as_view(), name="member-referrals"),
    path("partner-codes/<str:code>/redeem/", api_referral.PartnerCodeRedeemView.as_view(), name="partner-code-redeem"),
]
