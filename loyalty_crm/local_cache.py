"""Small, rarely changed rows kept in each process's memory, dropped everywhere when they change.

The posting reads the stores by code and the active partner offers on every request (issue 20).
Through the shared cache (Redis) each read is a round trip and an unpickling of model instances;
here each value lives in the process as it was loaded, next to a *version*: a token kept in the
shared cache under `local:version:<name>`. A change — a save or delete heard by a receiver, see
`forget` — writes a new token (at once, and again at commit: a reader may load the old rows between
the two), so every process sees the change the next time it asks.

`per_request` is the lighter layer for values that stay in the shared cache (read from it once per
request, not once per use).

A request reads all the versions at most once (one `get_many`, at its first use of a value), so a
change made by a request is seen by every request that starts after it; the same request sees its
own change at once (`forget` also drops what the request read). Outside a request (Celery, commands)
the versions are read on every use. A value is also dropped after `MAX_AGE` seconds whatever its
version, so a change made behind Django's back (SQL by hand) is seen within that time.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction

MAX_AGE = 60.0  # seconds

_values: dict[str, tuple[str | None, float, Any]] = {}  # name → (version, loaded at, value)
_names: set[str] = set()
_state = threading.local()  # `versions`: what this request read; `in_request`
_lock = threading.Lock()


def version_key(name: str) -> str:
    return f"local:version:{name}"


def _on_request_started(**_kwargs) -> None:
    _state.in_request = True
    _state.versions = None
    _state.memo = {}


def _on_request_finished(**_kwargs) -> None:
    _state.in_request = False
    _state.versions = None
    _state.memo = {}


request_started.connect(_on_request_started, dispatch_uid="loyalty_crm.local_cache.started")
request_finished.connect(_on_request_finished, dispatch_uid="loyalty_crm.local_cache.finished")


def _versions() -> dict[str, str]:
    versions = getattr(_state, "versions", None) if getattr(_state, "in_request", False) else None
    if versions is None:
        versions = cache.get_many([version_key(name) for name in sorted(_names)])
        if getattr(_state, "in_request", False):
            _state.versions = versions
    return versions


def get(name: str, load: Callable[[], Any]) -> Any:
    """The value `name` as this process holds it, loaded with `load()` when missing, stale or
    older than MAX_AGE. `load` must return something no caller mutates (it is shared by threads)."""
    if name not in _names:
        with _lock:
            _names.add(name)
        _state.versions = None
    version = _versions().get(version_key(name))
    held = _values.get(name)
    now = time.monotonic()
    if held is not None and held[0] == version and now - held[1] < MAX_AGE:
        return held[2]
    if version is None:  # never set (a fresh cache): give it one, so that a later change differs
        version = uuid.uuid4().hex
        if not cache.add(version_key(name), version, None):
            version = cache.get(version_key(name))
        if getattr(_state, "versions", None) is not None:
            _state.versions[version_key(name)] = version
    value = load()
    _values[name] = (version, now, value)
    return value


def _bump(name: str) -> None:
    cache.set(version_key(name), uuid.uuid4().hex, None)
    _values.pop(name, None)
    _state.versions = None


def forget(name: str) -> None:
    """`name` changed: every process reloads it on its next use (now, and again at commit)."""
    _bump(name)
    transaction.on_commit(lambda: _bump(name))


def forgetter(name: str) -> Callable[..., None]:
    """A signal receiver that forgets `name` (for post_save / post_delete)."""

    def receiver(**_kwargs) -> None:
        forget(name)

    receiver.__name__ = receiver.__qualname__ = f"forget_{name.replace('-', '_')}"
    return receiver


def per_request(key: str, load: Callable[[], Any]) -> Any:
    """`load()` once per request: a value read through the shared cache on every posting (the
    tiers, the earning configuration, the policies) is read from Redis once per request however
    many times the request asks; outside a request, `load()` every time. `forget_in_request(key)`
    (the cached value's receivers call it) makes the request read it again."""
    if not getattr(_state, "in_request", False):
        return load()
    memo = _state.memo
    if key not in memo:
        memo[key] = load()
    return memo[key]


def forget_in_request(key: str) -> None:
    memo = getattr(_state, "memo", None)
    if memo:
        memo.pop(key, None)
