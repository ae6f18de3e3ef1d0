"""Public campaign pages (no account): unsubscribe, and email tracking (open pixel, click redirect)."""

from django.urls import path

from campaigns import views
from campaigns.channels.wechat_hooks import wechat_callback

app_name = "campaigns"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("c/o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/c/<str:token>/", views.click, name="click"),
    path("hooks/wechat/", wechat_callback, name="wechat-callback"),
]
