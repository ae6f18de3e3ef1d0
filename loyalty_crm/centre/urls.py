"""The member centre's pages, under /m/ (loyalty_crm/urls.py)."""

from django.urls import path

from loyalty_crm.centre import auth, care_plans, pages, views_dates, views_events, views_profile, views_purchases

app_name = "centre"

urlpatterns: list = [
    # Joining and signing in (loyalty_crm.centre.auth)
    path("login/", auth.login, name="login"),
    path("join/", auth.join, name="join"),
    path("logout/", auth.logout, name="logout"),
    path("terms/", auth.terms, name="terms"),
    path("terms/<slug:kind>/", auth.terms_text, name="terms_text"),
    path("wechat/", auth.wechat_start, name="wechat"),
    path("wechat/callback/", auth.wechat_callback, name="wechat_callback"),
]

# Card, points, coupons, rewards and stored value (mcpages: loyalty_crm.centre.pages).
urlpatterns += [
    path("", pages.card, name="card"),
    path("card/", pages.show_card, name="show_card"),
    path("points/", pages.points, name="points"),
    path("coupons/", pages.coupons, name="coupons"),
    path("coupons/<str:code>/", pages.coupon, name="coupon"),
    path("rewards/", pages.rewards, name="rewards"),
    path("rewards/<int:reward_id>/redeem/", pages.redeem, name="redeem"),
    path("rewards/redemptions/<int:redemption_id>/", pages.redemption, name="redemption"),
    path("wallet/", pages.wallet, name="wallet"),
    path("care-plans/", care_plans.care_plans, name="care_plans"),
]

# Profile, preferences, consents, privacy, purchases and feedback (mcprofile).
urlpatterns += [
    path("profile/", views_profile.profile, name="profile"),
    path("profile/preferences/", views_profile.preferences, name="preferences"),
    path("dates/", views_dates.dates, name="dates"),
    path("dates/<int:pk>/delete/", views_dates.date_delete, name="date_delete"),
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

# Member events (campaigns.services.events): the list, sign-up, cancellation and the invitation link.
urlpatterns += [
    path("events/", views_events.events, name="events"),
    path("events/<int:event_id>/sign-up/", views_events.event_signup, name="event_signup"),
    path("events/<int:event_id>/image/", views_events.event_image, name="event_image"),
    path("events/registrations/<int:registration_id>/cancel/", views_events.event_cancel, name="event_cancel"),
    path("events/link/<str:token>/", views_events.event_link, name="event_link"),
]
