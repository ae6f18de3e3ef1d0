"""Small helpers the feedback services share."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.storage import default_storage

log = logging.getLogger("feedback.services")


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - best effort; the file has no row pointing at it
            log.warning("Could not delete orphaned feedback file %s", name)


def public_url(path: str) -> str:
    """An absolute address for links in emails (FEEDBACK_PUBLIC_URL, e.g. https://crm.example.com)."""
    base = getattr(settings, "FEEDBACK_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + path
