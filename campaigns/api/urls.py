from django.urls import path

from campaigns.api import analytics, event_views, referral_views, views

urlpatterns = [
    path("analytics/points/", analytics.PointsAnalyticsView.as_view(), name="analytics-points"),
    path(
        "analytics/members-vs-walk-ins/", analytics.MembersVsWalkInsView.as_view(), name="analytics-members-vs-walk-ins"
    ),
    path("analytics/retention/", analytics.RetentionView.as_view(), name="analytics-retention"),
    path("campaigns/", views.CampaignListCreateView.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/results/", views.CampaignResultsView.as_view(), name="campaign-results"),
    path("campaigns/<int:pk>/estimate/", views.CampaignEstimateView.as_view(), name="campaign-estimate"),
    path("message-templates/", views.MessageTemplateListView.as_view(), name="message-template-list"),
    path("campaigns/<int:pk>/launch/", views.CampaignLaunchView.as_view(), name="campaign-launch"),
    path("campaigns/<int:pk>/expand/", views.CampaignExpandView.as_view(), name="campaign-expand"),
    path("campaigns/<int:pk>/cancel/", views.CampaignCancelView.as_view(), name="campaign-cancel"),
    path("contact-policy/", views.ContactPolicyView.as_view(), name="contact-policy"),
    path("segments/", views.SegmentListView.as_view(), name="segment-list"),
    path("segments/<int:pk>/", views.SegmentDetailView.as_view(), name="segment-detail"),
    path("segments/<int:pk>/export/", views.SegmentExportView.as_view(), name="segment-export"),
    # the referral programme and partner codes
    path(
        "members/<str:member_no>/referrals/",
        referral_views.MemberReferralsView.as_view(),
        name="member-referrals",
    ),
    path(
        "partner-codes/<str:code>/redeem/",
        referral_views.PartnerCodeRedeemView.as_view(),
        name="partner-code-redeem",
    ),
    # member events
    path("events/", event_views.EventListCreateView.as_view(), name="event-list"),
    path("events/<int:pk>/", event_views.EventDetailView.as_view(), name="event-detail"),
    path("events/<int:pk>/registrations/", event_views.RegistrationCreateView.as_view(), name="event-registrations"),
    path(
        "events/<int:pk>/registrations/<int:rid>/cancel/",
        event_views.RegistrationCancelView.as_view(),
        name="event-registration-cancel",
    ),
]
