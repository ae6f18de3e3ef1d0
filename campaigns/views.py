"""Public pages reached from campaign messages by signed links, no login needed: unsubscribe,
the open pixel and the click redirect."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns import services, tracking
from campaigns.services import tracking as tracking_service
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


@never_cache
@require_http_methods(["GET", "HEAD"])
def open_pixel(request, token: str):
    """The 1×1 open pixel of a campaign email: records the first open; a bad token gets 404."""
    if not tracking_service.record_open(token=token):
        raise Http404
    return HttpResponse(tracking.PIXEL, content_type="image/gif")


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request, token: str):
    """A tracked link: records the first click and redirects to the URL signed into the token —
    only ever a link of that message. A tampered or unknown token gets 404, never a redirect."""
    url = tracking_service.record_click(token=token)
    if url is None:
        raise Http404
    return HttpResponseRedirect(url)
