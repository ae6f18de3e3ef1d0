"""Sign in with WeChat (snsapi_base) for the member centre: the signed state that carries the
`next` page, over the WeChat channel's OAuth client (`campaigns.channels.wechat`: the authorize
URL, code → openid, `WECHAT_APP_ID`/`WECHAT_APP_SECRET`/`WECHAT_OAUTH_BASE_URL`/`WECHAT_SNS_BASE_URL`).
Never logs the code or the openid.
"""

from __future__ import annotations

import secrets

from django.core import signing

from campaigns.channels import ChannelError, wechat

STATE_SALT = "members.centre.wechat-oauth-state"
STATE_MAX_AGE = 600


class WeChatOAuthError(Exception):
    """WeChat did not give an openid (bad or used code, network, configuration)."""


def is_configured() -> bool:
    return wechat.wechat_enabled()


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
    return wechat.oauth_authorize_url(redirect_uri=redirect_uri, state=state)


def openid_for_code(code: str) -> str:
    """Exchange an OAuth code for the member's openid."""
    try:
        return wechat.oauth_openid(code)
    except ChannelError as exc:
        raise WeChatOAuthError(exc.code) from None
