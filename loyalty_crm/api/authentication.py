"""Token authentication for the API: DRF's `TokenAuthentication`, with the user's permissions
loaded in the same step.

DRF looks the token up with the ORM (`select_related("user")`), and every permission check then
costs `ModelBackend` two more queries (the user's own permissions, then its groups'). An
integrator's POS posts purchases all day, so this class reads the token with its user and the
permissions — own and through groups — in one query on PostgreSQL (two elsewhere), and hands them to
`ModelBackend` through the per-user cache it already keeps (`_perm_cache`). The answers are the
same: an unknown key or an inactive user is refused with DRF's messages, and permissions are read
fresh on every request (never cached across requests).

Bad tokens are throttled per client address (the trusted-proxy rule of `loyalty_crm.netaddr`): each
unknown key or inactive user's key counts one attempt; past `API_BAD_TOKEN_RATE` attempts within
its window, further bad-token requests from that address get 429 with `Retry-After` instead of
401 until the window ends. Only bad tokens are throttled: a valid token keeps working from the same
address (an integrator's till behind the same shop router as a guesser is not locked out), and
the 40-hex-digit keys cannot be guessed in the attempts allowed anyway.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from loyalty_crm import _sql
from loyalty_crm._sql import load_permissions  # noqa: F401 (part of this module's interface)
from loyalty_crm.netaddr import client_ip

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Backends that only refuse sign-ins and answer no permission question (the sign-in lockout).
NON_PERMISSION_BACKENDS = {"axes.backends.AxesStandaloneBackend"}


def _permission_backends() -> list[str]:
    return [path for path in settings.AUTHENTICATION_BACKENDS if path not in NON_PERMISSION_BACKENDS]


def bad_token_rate() -> tuple[int, int]:
    """(bad-token attempts, seconds) allowed per client address."""
    limit, window = getattr(settings, "API_BAD_TOKEN_RATE", (10, 600))
    return int(limit), int(window)


def bad_token_key(address: str) -> str:
    """The cache key counting `address`'s bad-token attempts in the current window."""
    _limit, window = bad_token_rate()
    return f"api:bad-token:{address}:{int(time.time() // window)}"


def bad_token_wait(address: str) -> int:
    """Seconds until `address` may try tokens again; 0 when it is not throttled."""
    limit, window = bad_token_rate()
    now = time.time()
    if (cache.get(bad_token_key(address)) or 0) < limit:
        return 0
    return max(1, int((int(now // window) + 1) * window - now) + 1)


def count_bad_token(address: str) -> None:
    """Count one bad-token attempt from `address` in the current window."""
    _limit, window = bad_token_rate()
    key = bad_token_key(address)
    cache.add(key, 0, timeout=window + 5)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's class; see the module docstring."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            # Only a header that names a token scheme reaches here with a bad or malformed key.
            address = client_ip(request)
            wait = bad_token_wait(address)
            if wait:
                raise exceptions.Throttled(
                    wait=wait, detail=str(_("Too many requests with an invalid token from this address."))
                ) from None
            count_bad_token(address)
            raise

    def authenticate_credentials(self, key):
        by_model_backend = _permission_backends() == [MODEL_BACKEND]
        users = _sql.users_with_token(key, with_permissions=by_model_backend)
        if not users:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = users[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser and by_model_backend:
            # ModelBackend.get_all_permissions() answers from this attribute when it is set.
            permissions = user.token_permissions
            user._perm_cache = set(permissions) if permissions is not None else _sql.load_permissions(user)
        token = Token(key=key, user=user, created=user.token_created)
        return user, token
