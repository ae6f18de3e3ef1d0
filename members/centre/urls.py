"""The member centre's pages, under /m/ (loyalty_crm/urls.py)."""

from django.urls import path

from members.centre import auth

app_name = "centre"

urlpatterns: list = [
    # Joining and signing in (members.centre.auth)
    path("login/", auth.login, name="login"),
    path("join/", auth.join, name="join"),
    path("logout/", auth.logout, name="logout"),
    path("terms/", auth.terms, name="terms"),
    path("terms/<slug:kind>/", auth.terms_text, name="terms_text"),
    path("wechat/", auth.wechat_start, name="wechat"),
    path("wechat/callback/", auth.wechat_callback, name="wechat_callback"),
]
