"""The public unsubscribe page: a signed link from a campaign message, no login needed."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns import services
from campaigns.services.policy import member_for_unsubscribe_token


@csrf_exempt  # the signed token is the authority; mail clients' one-click POST (RFC 8058) has no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST withdraws the
    consent at once and records it in the member's consent history."""
    found = member_for_unsubscribe_token(token)
    if found is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=400)
    _member, channel = found
    if request.method == "POST":
        services.unsubscribe(token=token)
        return render(request, "campaigns/unsubscribe_done.html", {"channel": channel})
    return render(request, "campaigns/unsubscribe_confirm.html", {"channel": channel, "token": token})
