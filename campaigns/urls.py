"""Public campaign pages (no account): unsubscribe, email tracking (open pixel, click redirect),
the SMS providers' delivery receipt hooks (campaigns/channels/hooks.py) and WeChat's callback
(campaigns/channels/wechat_hooks.py)."""

from django.urls import path

from campaigns import views
from campaigns.channels import hooks
from campaigns.channels.wechat_hooks import wechat_callback

app_name = "campaigns"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("c/o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/c/<str:token>/", views.click, name="click"),
    path("hooks/wechat/", wechat_callback, name="wechat-callback"),
    path("hooks/sms/aliyun/", hooks.aliyun_receipts, name="sms-receipts-aliyun"),
    path("hooks/sms/tencent/", hooks.tencent_receipts, name="sms-receipts-tencent"),
]
