"""The development WeChat provider's log (`WECHAT_PROVIDER=log`): what would have gone out, read-only."""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import WeChatLog
from loyalty_crm.admin_base import ReadOnlyAdmin


@admin.register(WeChatLog)
class WeChatLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "reference", "openid", "template_id", "text"]
    search_fields = ["reference", "openid"]
    show_full_result_count = False
    readonly_fields = ["created_at", "reference", "openid", "template_id", "params", "text", "url"]
