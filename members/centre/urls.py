"""The member centre's pages, under /m/ (loyalty_crm/urls.py)."""

from django.urls import path

from members.centre import views_profile, views_purchases

app_name = "centre"

urlpatterns: list = []

# Profile, preferences, consents, privacy, purchases and feedback (mcprofile).
urlpatterns += [
    path("profile/", views_profile.profile, name="profile"),
    path("profile/preferences/", views_profile.preferences, name="preferences"),
    path("profile/consents/", views_profile.consents, name="consents"),
    path("profile/privacy/", views_profile.privacy, name="privacy"),
    path("profile/privacy/export/", views_profile.privacy_export, name="privacy_export"),
    path("profile/privacy/close/", views_profile.closure_request, name="closure_request"),
    path("profile/privacy/close/withdraw/", views_profile.closure_withdraw, name="closure_withdraw"),
    path("purchases/", views_purchases.purchases, name="purchases"),
    path("purchases/<int:pk>/", views_purchases.purchase, name="purchase"),
    path("feedback/", views_purchases.tickets, name="tickets"),
    path("feedback/<str:ticket_no>/", views_purchases.ticket, name="ticket"),
]
