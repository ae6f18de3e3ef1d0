"""The member-scoped API, under /api/v1/me/ (loyalty_crm/api/urls.py): the member centre's
features for a WeChat mini-program or an app. Every view authenticates with
`members.centre.session.MemberAuthentication` and allows only `IsMember`."""

from django.urls import path

from members.centre import api_profile

urlpatterns: list = []

# Profile, consents, purchases, tickets, export and account closure (mcprofile).
urlpatterns += [
    path("profile/", api_profile.MeProfileView.as_view(), name="me-profile"),
    path("consents/", api_profile.MeConsentsView.as_view(), name="me-consents"),
    path("purchases/", api_profile.MePurchasesView.as_view(), name="me-purchases"),
    path("tickets/", api_profile.MeTicketsView.as_view(), name="me-tickets"),
    path("export/", api_profile.MeExportView.as_view(), name="me-export"),
    path("closure-request/", api_profile.MeClosureRequestView.as_view(), name="me-closure-request"),
]
