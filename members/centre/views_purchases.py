"""The member centre's purchases and feedback pages (/m/purchases/, /m/feedback/).

A purchase or ticket is looked up with the signed-in member in the query, so another member's id
or ticket number is a 404 like one that does not exist. "Give feedback on this purchase" opens the
public feedback form with a signed purchase (`feedback.prefill`), never a raw id.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from feedback.prefill import purchase_token
from members.centre import profile_data
from members.centre.session import member_required


def feedback_url(purchase) -> str:
    return f"{reverse('feedback:form')}?{urlencode({'purchase': purchase_token(purchase)})}"


@never_cache
@member_required
def purchases(request):
    context = {"tab": "profile", "purchases": profile_data.member_purchases(request.member)}
    return render(request, "centre/purchases.html", context)


@never_cache
@member_required
def purchase(request, pk: int):
    found = profile_data.member_purchase(request.member, pk)
    if found is None:
        raise Http404
    context = {"tab": "profile", "purchase": found, "feedback_url": feedback_url(found)}
    return render(request, "centre/purchase.html", context)


@never_cache
@member_required
def tickets(request):
    context = {"tab": "profile", "tickets": profile_data.member_tickets(request.member)}
    return render(request, "centre/tickets.html", context)


@never_cache
@member_required
def ticket(request, ticket_no: str):
    found = profile_data.member_ticket(request.member, ticket_no)
    if found is None:
        raise Http404
    return render(request, "centre/ticket.html", {"tab": "profile", "ticket": found})
