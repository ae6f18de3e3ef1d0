"""The development WeChat "provider"'s one write: the message stored in `WeChatLog` (admin: WeChat log)."""

from __future__ import annotations

from campaigns.models import WeChatLog


def log_wechat(*, openid: str, template_id: str, params: dict, text: str, url: str, reference: str) -> WeChatLog:
    """Store one template message instead of sending it (`WECHAT_PROVIDER=log`)."""
    return WeChatLog.objects.create(
        openid=openid,
        template_id=template_id,
        params={str(name): str(value) for name, value in (params or {}).items()},
        text=text or "",
        url=(url or "")[:500],
        reference=reference[:100],
    )
