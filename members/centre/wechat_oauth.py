"""A thin client for WeChat's web OAuth (snsapi_base): the authorize URL and code → openid.

Settings (read with defaults, so it works before they land in settings.py): `WECHAT_APP_ID`,
`WECHAT_APP_SECRET` (both needed: "configured"), `WECHAT_OAUTH_AUTHORIZE_URL` (default WeChat's
https://open.weixin.qq.com/connect/oauth2/authorize) and `WECHAT_SNS_BASE_URL` (default
https://api.weixin.qq.com/sns/). The state is signed (salted, 10 minutes) and carries the `next`
page. Never logs the code or the openid.

(The WeChat channel's helper is to offer `campaigns.channels.wechat.oauth_authorize_url` and
`oauth_openid`; this module is the member centre's own until they are reconciled.)
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core import signing

STATE_SALT = "members.centre.wechat-oauth-state"
STATE_MAX_AGE = 600
DEFAULT_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
DEFAULT_SNS_BASE_URL = "https://api.weixin.qq.com/sns/"
TIMEOUT = 10


class WeChatOAuthError(Exception):
    """WeChat did not give an openid (bad code, network, configuration)."""


def is_configured() -> bool:
    return bool(getattr(settings, "WECHAT_APP_ID", "") and getattr(settings, "WECHAT_APP_SECRET", ""))


def make_state(*, next_url: str) -> str:
    return signing.dumps({"n": next_url, "r": secrets.token_urlsafe(8)}, salt=STATE_SALT, compress=True)


def read_state(state: str) -> str | None:
    """The `next` page of a state this site made in the last 10 minutes; None otherwise."""
    try:
        data = signing.loads(state or "", salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("n", "") if isinstance(data, dict) else None


def authorize_url(*, redirect_uri: str, state: str) -> str:
    base = getattr(settings, "WECHAT_OAUTH_AUTHORIZE_URL", "") or DEFAULT_AUTHORIZE_URL
    query = urlencode(
        {
            "appid": settings.WECHAT_APP_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return f"{base}?{query}#wechat_redirect"


def openid_for_code(code: str) -> str:
    """Exchange an OAuth code for the user's openid (`sns/oauth2/access_token`)."""
    if not code or len(code) > 200:
        raise WeChatOAuthError("no code")
    base = getattr(settings, "WECHAT_SNS_BASE_URL", "") or DEFAULT_SNS_BASE_URL
    try:
        response = requests.get(
            base.rstrip("/") + "/oauth2/access_token",
            params={
                "appid": settings.WECHAT_APP_ID,
                "secret": settings.WECHAT_APP_SECRET,
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=TIMEOUT,
        )
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeChatOAuthError(type(exc).__name__) from None
    openid = data.get("openid") if isinstance(data, dict) else None
    if not openid or not isinstance(openid, str) or len(openid) > 64:
        raise WeChatOAuthError(f"errcode {data.get('errcode') if isinstance(data, dict) else '?'}")
    return openid
