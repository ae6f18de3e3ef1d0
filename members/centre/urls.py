"""The member centre's pages, under /m/ (loyalty_crm/urls.py)."""

from django.urls import path

from members.centre import pages

app_name = "centre"

urlpatterns: list = [
    # card, points, coupons, rewards, wallet (members.centre.pages)
    path("", pages.card, name="card"),
    path("card/", pages.show_card, name="show_card"),
    path("points/", pages.points, name="points"),
    path("coupons/", pages.coupons, name="coupons"),
    path("coupons/<str:code>/", pages.coupon, name="coupon"),
    path("rewards/", pages.rewards, name="rewards"),
    path("rewards/<int:reward_id>/redeem/", pages.redeem, name="redeem"),
    path("rewards/redemptions/<int:redemption_id>/", pages.redemption, name="redemption"),
    path("wallet/", pages.wallet, name="wallet"),
]
