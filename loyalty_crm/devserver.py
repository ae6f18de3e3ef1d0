"""Where the development server listens and the address staff open, shared by `rundev` (which
serves) and `seed_demo` (which prints the demo logins): `--addr`, else `RUNDEV_ADDR`, else
127.0.0.1:8000 — the same forms `runserver` takes ("8001", "0.0.0.0:8000", "[::1]:8000")."""

from __future__ import annotations

import os

DEFAULT_ADDR = "127.0.0.1:8000"


def default_addr() -> str:
    return os.environ.get("RUNDEV_ADDR", "").strip() or DEFAULT_ADDR


def admin_url(addr: str | None = None) -> str:
    """The admin's URL when served on `addr`. A server on every interface (0.0.0.0, [::]) is
    opened on this machine at 127.0.0.1."""
    addr = (addr or default_addr()).strip()
    if addr.isdigit():  # runserver accepts a bare port
        return f"http://127.0.0.1:{addr}/admin/"
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:  # a host without a port: runserver's default port
        host, port = addr, "8000"
    if host in ("0.0.0.0", "[::]"):  # noqa: S104 - a listening address shown as where to browse
        host = "127.0.0.1"
    return f"http://{host}:{port}/admin/"
