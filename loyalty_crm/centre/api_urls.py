"""The member-scoped API, under /api/v1/me/ (loyalty_crm/api/urls.py): the member centre's
features for a WeChat mini-program or an app. Every view authenticates with
`loyalty_crm.centre.session.MemberAuthentication` and allows only `IsMember`."""

from django.urls import path

from loyalty_crm.centre import api_auth, api_dates, api_events, api_pages, api_profile, care_plans

urlpatterns: list = [
    # Signing in and joining (loyalty_crm.centre.api_auth)
    path("otp/", api_auth.MeOtpView.as_view(), name="me-otp"),
    path("session/", api_auth.MeSessionView.as_view(), name="me-session"),
    path("join/", api_auth.MeJoinView.as_view(), name="me-join"),
    path("terms/", api_auth.MeTermsView.as_view(), name="me-terms"),
]

# Card, points, coupons, rewards and stored value (mcpages: loyalty_crm.centre.api_pages).
urlpatterns += [
    path("", api_pages.MeView.as_view(), name="me"),
    path("points/", api_pages.MePointsView.as_view(), name="me-points"),
    path("coupons/", api_pages.MeCouponsView.as_view(), name="me-coupons"),
    path("coupons/<str:code>/", api_pages.MeCouponView.as_view(), name="me-coupon"),
    path("rewards/", api_pages.MeRewardsView.as_view(), name="me-rewards"),
    path("redemptions/", api_pages.MeRedemptionsView.as_view(), name="me-redemptions"),
    path("redemptions/<int:pk>/", api_pages.MeRedemptionView.as_view(), name="me-redemption"),
    path("wallet/", api_pages.MeWalletView.as_view(), name="me-wallet"),
    path("wallet/entries/", api_pages.MeWalletEntriesView.as_view(), name="me-wallet-entries"),
    path("wallet/entries/<int:pk>/", api_pages.MeWalletEntryView.as_view(), name="me-wallet-entry"),
    path("wallet/gift-claims/", api_pages.MeGiftClaimView.as_view(), name="me-gift-claims"),
    path("care-plans/", care_plans.MeCarePlansView.as_view(), name="me-care-plans"),
]

# Profile, consents, purchases, tickets, export and account closure (mcprofile).
urlpatterns += [
    path("profile/", api_profile.MeProfileView.as_view(), name="me-profile"),
    path("consents/", api_profile.MeConsentsView.as_view(), name="me-consents"),
    path("important-dates/", api_dates.MeImportantDatesView.as_view(), name="me-important-dates"),
    path("important-dates/<int:pk>/", api_dates.MeImportantDateView.as_view(), name="me-important-date"),
    path("purchases/", api_profile.MePurchasesView.as_view(), name="me-purchases"),
    path("tickets/", api_profile.MeTicketsView.as_view(), name="me-tickets"),
    path("export/", api_profile.MeExportView.as_view(), name="me-export"),
    path("closure-request/", api_profile.MeClosureRequestView.as_view(), name="me-closure-request"),
]

# Member events (loyalty_crm.centre.api_events).
urlpatterns += [
    path("events/", api_events.MeEventsView.as_view(), name="me-events"),
    path("events/<int:pk>/registrations/", api_events.MeEventSignUpView.as_view(), name="me-event-registrations"),
    path(
        "events/registrations/<int:rid>/cancel/",
        api_events.MeRegistrationCancelView.as_view(),
        name="me-event-registration-cancel",
    ),
]
