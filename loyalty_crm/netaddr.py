"""The client's real IP address, also behind trusted reverse proxies (TRUSTED_PROXIES).

With no trusted proxies (the default) the address is REMOTE_ADDR and X-Forwarded-For is ignored:
anyone can write that header. When REMOTE_ADDR is a trusted proxy, the X-Forwarded-For list is
read from the right (the end each proxy appends to) and the first address that is not itself a
trusted proxy is the client; what a client wrote further left is never believed.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse(value: str):
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR") or ""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    remote_address = _parse(remote)
    if not networks or remote_address is None or not _trusted(remote_address, networks):
        return remote or "unknown"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [part for part in forwarded.split(",") if part.strip()]
    client = remote_address
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # garbage: stop at the last address we could trust
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
