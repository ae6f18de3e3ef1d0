"""Template context for the member centre: `centre_member`, the signed-in member (or None)."""

from __future__ import annotations


def centre(request) -> dict:
    if not request.path.startswith("/m/"):
        return {}
    from loyalty_crm.centre.session import current_member

    return {"centre_member": getattr(request, "member", None) or current_member(request)}
