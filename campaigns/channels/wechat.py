"""The WeChat Official Account channel (issue 14): template messages, the shared access token,
WeChat's error codes, and the web OAuth helpers the member centre signs in with.

`WECHAT_PROVIDER` chooses the provider: `log` (the default) stores each message in `WeChatLog`
for development; `wechat` sends it through wechatpy's `WeChatClient.message.send_template` to
`WECHAT_API_BASE_URL` with the account `WECHAT_APP_ID` / `WECHAT_APP_SECRET`.

The access token (valid 7,200 s, and a fetch invalidates the previous one after a grace period)
is kept in Django's cache — Redis in production — so every worker of every machine uses one
token. When it is missing or about to expire, one worker fetches it under a cache lock
(`cache.add`); the others wait briefly and read what it stored. When WeChat answers that the
token is invalid or expired (40001, 40014, 42001), the token is refreshed once — only if nobody
has refreshed it meanwhile — and the send is retried once.

What the dispatcher is told (campaigns/channels/base.py):
- WeChat's `msgid` (as text) when WeChat accepted the message;
- `ChannelError(str(errcode), reason, temporary=...)` when WeChat refused it; temporary only for
  the codes WeChat documents as "try again later": -1 (system busy), 45009 (daily API quota),
  45011 (per-minute quota), 45047 (sending limit);
- `ChannelInDoubt` when the request went out and no answer came back (a read timeout, a dropped
  connection, a server error page): the message may have reached the member, so it is never re-sent.
A connection that could not even be opened is a temporary error (nothing was sent).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from urllib3.exceptions import NewConnectionError
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.session import SessionStorage

from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage

logger = logging.getLogger(__name__)

PROVIDER_NAME = "wechat"

# WeChat's answers that mean "the access token you sent is not (or no longer) valid".
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# The codes WeChat documents as temporary ("稍候再试", quotas and frequency limits).
TEMPORARY_ERRORS = frozenset({-1, 45009, 45011, 45047})

# Why WeChat refused, in the staff's language; the code is kept with the failed message.
REASONS = {
    -1: gettext_lazy("WeChat is busy; the message will be retried later."),
    40001: gettext_lazy("WeChat refused the access token: check the app ID and app secret."),
    40003: gettext_lazy("The openid is not valid for this Official Account."),
    40013: gettext_lazy("The WeChat app ID is not valid."),
    40014: gettext_lazy("WeChat refused the access token: check the app ID and app secret."),
    40029: gettext_lazy("The WeChat sign-in code is not valid or has expired."),
    40036: gettext_lazy("The WeChat template ID is too long."),
    40037: gettext_lazy("The WeChat template ID is not valid for this Official Account."),
    40125: gettext_lazy("The WeChat app secret is not valid."),
    40163: gettext_lazy("The WeChat sign-in code has already been used."),
    40164: gettext_lazy("This server's IP address is not on the Official Account's IP whitelist."),
    41001: gettext_lazy("WeChat refused the access token: check the app ID and app secret."),
    42001: gettext_lazy("WeChat refused the access token: check the app ID and app secret."),
    43004: gettext_lazy("The member does not follow the Official Account."),
    43019: gettext_lazy("The member is on the Official Account's blacklist."),
    43101: gettext_lazy("The member has refused messages from this template."),
    45009: gettext_lazy("The Official Account's daily API quota is used up; the message will be retried."),
    45011: gettext_lazy("WeChat's rate limit was reached; the message will be retried."),
    45047: gettext_lazy("WeChat's rate limit was reached; the message will be retried."),
    47001: gettext_lazy("WeChat could not read the message (data format error)."),
    47003: gettext_lazy("The template fields do not match the WeChat template."),
    48001: gettext_lazy("The Official Account may not send template messages (no API permission)."),
    48004: gettext_lazy("WeChat has blocked this API for the Official Account."),
    50002: gettext_lazy("The member's WeChat account is restricted."),
}

TOKEN_CACHE_KEY = "wechat:access-token:{app_id}"  # noqa: S105 - a cache key, not a secret
TOKEN_LOCK_KEY = "wechat:access-token-lock:{app_id}"  # noqa: S105
# A token is dropped from the cache this long before WeChat expires it, so no send uses a token
# about to expire.
TOKEN_EXPIRY_MARGIN_SECONDS = 300
# The refreshing worker holds the lock at most this long (then another may try).
TOKEN_LOCK_SECONDS = 30


def refusal(errcode, errmsg: str = "") -> ChannelError:
    """The ChannelError for one of WeChat's error codes."""
    try:
        number = int(errcode)
    except (TypeError, ValueError):
        number = None
    reason = REASONS.get(number)
    if reason is None:
        reason = _("WeChat refused the message (error %(code)s: %(message)s).") % {
            "code": errcode,
            "message": (errmsg or "")[:120],
        }
    return ChannelError(str(errcode), str(reason), temporary=number in TEMPORARY_ERRORS)


def wechat_enabled() -> bool:
    """True when an Official Account is configured (app ID and secret): the member centre offers
    "sign in with WeChat" only then. Sending also needs `WECHAT_PROVIDER=wechat`."""
    return bool(settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET)


# --- the access token, shared through the cache ------------------------------------------------


def _cache_forget(key: str) -> None:
    """Drop a cache entry (the cache, not the database: tests/test_layering.py allows this one)."""
    cache.delete(key)


class DjangoCacheStorage(SessionStorage):
    """wechatpy's session storage on Django's cache (Redis in production): shared by all workers."""

    def __init__(self, prefix: str = "wechat:session:"):
        self.prefix = prefix

    def get(self, key, default=None):
        return cache.get(self.prefix + key, default)

    def set(self, key, value, ttl=None):
        cache.set(self.prefix + key, value, ttl)

    def delete(self, key):
        _cache_forget(self.prefix + key)


class SharedTokenClient(WeChatClient):
    """`WeChatClient` whose access token lives in the shared cache and is fetched by one worker.

    wechatpy's own refresh (`auto_retry`) is switched off: it refetches on every 40001 without a
    limit and without coordination; `send_wechat` refreshes once and retries once instead.
    """

    def __init__(self, *, app_id: str, secret: str, api_base_url: str, timeout: float):
        super().__init__(app_id, secret, session=DjangoCacheStorage(), timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url

    @property
    def token_key(self) -> str:
        return TOKEN_CACHE_KEY.format(app_id=self.appid)

    @property
    def access_token(self) -> str:
        return cache.get(self.token_key) or self.refresh_access_token(stale=None)

    def refresh_access_token(self, *, stale: str | None, wait_seconds: float | None = None) -> str:
        """A valid token: the cached one unless it is `stale` (or missing); else one worker fetches
        a new one under the lock while the others wait for it."""
        wait_seconds = self.timeout * 2 + 1 if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait_seconds
        lock_key = TOKEN_LOCK_KEY.format(app_id=self.appid)
        while True:
            current = cache.get(self.token_key)
            if current and current != stale:
                return current
            if cache.add(lock_key, uuid.uuid4().hex, timeout=TOKEN_LOCK_SECONDS):
                try:
                    current = cache.get(self.token_key)  # refreshed between our read and the lock?
                    if current and current != stale:
                        return current
                    return self._fetch_token()
                finally:
                    _cache_forget(lock_key)
            if time.monotonic() >= deadline:
                raise ChannelError(
                    "token_unavailable", _("The WeChat access token could not be fetched."), temporary=True
                )
            time.sleep(0.05)

    def _fetch_token(self) -> str:
        try:
            response = self._http.get(
                self.API_BASE_URL + "token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
                timeout=self.timeout,
            )
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError) as exc:
            # Nothing was sent to any member: safe to try again later.
            raise ChannelError(
                "token_unavailable", _("The WeChat access token could not be fetched."), temporary=True
            ) from exc
        if result.get("errcode"):
            raise refusal(result["errcode"], result.get("errmsg", ""))
        token = result.get("access_token")
        if not token:
            raise ChannelError("token_unavailable", _("The WeChat access token could not be fetched."), temporary=True)
        expires_in = int(result.get("expires_in") or 7200)
        cache.set(self.token_key, token, max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 60))
        logger.info("wechat: fetched a new access token for app %s", self.appid)
        return token

    def fetch_access_token(self):  # wechatpy's entry point: the shared, locked refresh
        return {"access_token": self.refresh_access_token(stale=cache.get(self.token_key))}


_clients = threading.local()


def client() -> SharedTokenClient:
    """This thread's client for the configured account (a requests session is not thread-safe)."""
    config = (
        settings.WECHAT_APP_ID,
        settings.WECHAT_APP_SECRET,
        settings.WECHAT_API_BASE_URL,
        float(settings.WECHAT_TIMEOUT_SECONDS),
    )
    cached = getattr(_clients, "client", None)
    if cached is None or _clients.config != config:
        if not (settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET):
            raise ChannelError("not_configured", _("WeChat is not configured (WECHAT_APP_ID, WECHAT_APP_SECRET)."))
        cached = SharedTokenClient(
            app_id=config[0], secret=config[1], api_base_url=_with_slash(config[2]), timeout=config[3]
        )
        _clients.client, _clients.config = cached, config
    return cached


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


# --- sending ---------------------------------------------------------------------------------


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached WeChat (the connection was never opened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        return isinstance(getattr(reason, "reason", None), NewConnectionError)
    return False


def template_data(params: dict) -> dict:
    """WeChat's `data` object: each template field as `{"value": text}`."""
    return {str(name): {"value": str(value)} for name, value in (params or {}).items()}


def _send_once(wechat: SharedTokenClient, *, openid: str, message: TemplateMessage) -> dict:
    try:
        return wechat.message.send_template(
            openid, message.template_code, template_data(message.params), url=message.url or None
        )
    except requests.RequestException as exc:
        if _never_sent(exc):
            raise ChannelError(
                "unreachable", _("WeChat could not be reached; the message was not sent."), temporary=True
            ) from exc
        raise ChannelInDoubt("timeout", _("WeChat did not answer; the message may have been sent.")) from exc


class WeChatApiProvider:
    """Sends template messages through WeChat's API (`WECHAT_PROVIDER=wechat`)."""

    name = "wechat"
    concurrent_sends = True  # safe from several threads at once (a dispatch batch's send threads)

    def send(self, *, openid: str, message: TemplateMessage, reference: str) -> str:
        if not openid:
            raise ChannelError("no_openid", _("The member has no WeChat openid bound."))
        if not message.template_code:
            raise ChannelError("40037", str(REASONS[40037]))
        wechat = client()
        used = wechat.access_token
        try:
            try:
                result = _send_once(wechat, openid=openid, message=message)
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_ERRORS:
                    raise
                # The token was invalidated (another fetch, a secret reset): refresh once, retry once.
                logger.info("wechat: access token refused (%s), refreshing once", exc.errcode)
                wechat.refresh_access_token(stale=used)
                result = _send_once(wechat, openid=openid, message=message)
        except WeChatClientException as exc:
            if exc.errcode is None:  # an HTTP error page: the request arrived, the outcome is unknown
                raise ChannelInDoubt(
                    "http_error", _("WeChat answered with an error page; the message may have been sent.")
                ) from exc
            raise refusal(exc.errcode, exc.errmsg) from exc
        if not isinstance(result, dict) or not result.get("msgid"):
            raise ChannelInDoubt("bad_answer", _("WeChat's answer could not be read; the message may have been sent."))
        return str(result["msgid"])


class WeChatLogProvider:
    """Development provider: "sends" by storing the message in WeChatLog (admin: WeChat log)."""

    name = "log"

    def send(self, *, openid: str, message: TemplateMessage, reference: str) -> str:
        from campaigns.services.wechat_log import log_wechat  # services import channels: import when used

        if not openid:
            raise ChannelError("no_openid", _("The member has no WeChat openid bound."))
        entry = log_wechat(
            openid=openid,
            template_id=message.template_code,
            params=message.params,
            text=message.text,
            url=message.url,
            reference=reference,
        )
        return f"wlog-{entry.pk}"


def wechat_provider():
    return WeChatApiProvider() if settings.WECHAT_PROVIDER == "wechat" else WeChatLogProvider()


def send_wechat(*, openid: str, message: TemplateMessage, reference: str) -> str:
    """Send one template message to the member with `openid`; return WeChat's msgid (or the log
    entry's `wlog-<pk>`). Raises ChannelError / ChannelInDoubt as described above."""
    return wechat_provider().send(openid=openid, message=message, reference=reference)


# --- web OAuth (snsapi_base) for the member centre -------------------------------------------


def oauth_authorize_url(*, redirect_uri: str, state: str) -> str:
    """Where to send the member's browser to learn their openid (silent `snsapi_base` scope);
    WeChat comes back to `redirect_uri?code=...&state=...`."""
    query = urlencode(
        {
            "appid": settings.WECHAT_APP_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return f"{_with_slash(settings.WECHAT_OAUTH_BASE_URL)}oauth2/authorize?{query}#wechat_redirect"


def oauth_openid(code: str) -> str:
    """The openid of the member who signed in with `code` (from the OAuth redirect). Raises
    ChannelError with WeChat's code on refusal (40029 invalid code, 40163 code already used)."""
    code = (code or "").strip()
    if not code or len(code) > 128:
        raise ChannelError("40029", str(REASONS[40029]))
    if not wechat_enabled():
        raise ChannelError("not_configured", _("WeChat is not configured (WECHAT_APP_ID, WECHAT_APP_SECRET)."))
    oauth = WeChatOAuth(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET, redirect_uri="")
    oauth.API_BASE_URL = _with_slash(settings.WECHAT_SNS_BASE_URL)
    try:
        result = oauth._get(
            "sns/oauth2/access_token",
            params={
                "appid": settings.WECHAT_APP_ID,
                "secret": settings.WECHAT_APP_SECRET,
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=float(settings.WECHAT_TIMEOUT_SECONDS),
        )
    except WeChatOAuthException as exc:
        if exc.errcode is None:
            raise ChannelError("unreachable", _("WeChat could not be reached; try again."), temporary=True) from exc
        raise refusal(exc.errcode, exc.errmsg) from exc
    except (requests.RequestException, ValueError) as exc:
        raise ChannelError("unreachable", _("WeChat could not be reached; try again."), temporary=True) from exc
    openid = result.get("openid") if isinstance(result, dict) else None
    if not openid or not isinstance(openid, str) or len(openid) > 64:
        raise ChannelError("bad_answer", _("WeChat's answer could not be read."))
    return openid
