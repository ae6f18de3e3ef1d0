"""How `members.services.otp` sends a sign-in code without importing the sending layer above it.

`campaigns` registers its SMS layer (`campaigns.channels.send_otp`) from its `AppConfig.ready()`,
as it registers the classification provider (`members.classification_hook`); members never import
campaigns.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

CodeSender = Callable[..., str]  # (*, phone: str, code: str, reference: str) -> provider's message id
_sender: CodeSender | None = None


def register_sender(sender: CodeSender) -> None:
    global _sender
    _sender = sender


def send_code(*, phone: str, code: str, reference: str) -> str:
    if _sender is None:
        raise ImproperlyConfigured("No sign-in code sender is registered (campaigns registers its SMS layer).")
    return _sender(phone=phone, code=code, reference=reference)
