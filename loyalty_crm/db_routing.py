"""Reads for reports from a PostgreSQL replica (docs/operations/scaling-out.md).

When `DATABASE_REPLICA_URL` is set, settings add a `replica` database alias and this router sends to
it the reads made inside `replica_reads()` — the monthly marketing review, the KPI pages, the admin
home's figures and the analytics reads, which tolerate a replica's few seconds of lag and are the
heaviest reads the application makes. Everything else reads from `default`, and every write goes
to `default`, inside `replica_reads()` too (a `get_or_create` included: Django routes it as a write).
Without the alias, `replica_reads()` changes nothing.

Explicit and narrow on purpose: a page opts in by wrapping its reads, so no posting, lock or
read-after-write ever meets a replica by accident.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside: reads go to the `replica` alias when it is configured; writes stay on `default`."""
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


def reads_from_replica(function):
    """A view (or any function) whose reads run inside `replica_reads()`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with replica_reads():
            return function(*args, **kwargs)

    return wrapper


class ReplicaRouter:
    """`DATABASE_ROUTERS`: reads inside `replica_reads()` to the replica, the rest to `default`."""

    def db_for_read(self, model, **hints):
        if _reading_replica.get() and replica_configured():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database and its copy: every relation is within it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica follows the primary; migrations run on the primary only
