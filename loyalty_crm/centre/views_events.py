"""The member centre's events (/m/events/): upcoming events the member may come to, their sign-ups
with status and waitlist position, sign-up and cancellation; and the personal invitation link
(/m/events/link/<token>/), which signs up the member it names after they confirm — signed in or
not, because the signature proves who they are. Every change goes through
`campaigns.services.events`."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from campaigns import event_links
from campaigns.models import Event, EventRegistration
from campaigns.selectors import events as event_selectors
from campaigns.services import events as event_services
from loyalty_crm.centre.session import member_required
from loyalty_crm.errors import DomainError
from members.models import Member

REFUSALS = {
    "signup_closed": gettext_lazy("Sign-up for this event is closed."),
    "not_eligible": gettext_lazy("This event is for other members."),
    "insufficient_points": gettext_lazy("You do not have enough points for a seat."),
    "cancellation_closed": gettext_lazy("It is too late to cancel; please contact the shop."),
}


def refusal_text(error: Exception) -> str:
    code = getattr(error, "code", "")
    if code in REFUSALS:
        return str(REFUSALS[code])
    return _("This could not be done. Please ask at the counter.")


def signed_up_text(result) -> str:
    if result.registration.status == EventRegistration.Status.CONFIRMED:
        return _("You are signed up for “%(title)s”.") % {"title": result.registration.event.title}
    return _("The event is full: you are number %(position)d on the waitlist for “%(title)s”.") % {
        "position": result.position or 0,
        "title": result.registration.event.title,
    }


@member_required
def events(request):
    member = request.member
    upcoming = event_selectors.upcoming_events()
    allowed = event_selectors.events_member_may_attend(upcoming, member)
    registrations = list(event_selectors.member_registrations(member)[:30])
    active = {r.event_id: r for r in registrations if r.status != EventRegistration.Status.CANCELLED}
    now = timezone.now()
    offers = [
        {
            "event": event,
            "seats_left": event_selectors.seats_left(event),
            "registration": active.get(event.pk),
            "open": event_services.signup_refusal(event, now) is None,
        }
        for event in upcoming
        if event.pk in allowed or event.pk in active
    ]
    return render(
        request,
        "centre/events.html",
        {"tab": "events", "offers": offers, "registrations": registrations, "key": uuid.uuid4().hex, "now": now},
    )


@member_required
@require_POST
def event_signup(request, event_id: int):
    event = get_object_or_404(Event, pk=event_id)
    key = (request.POST.get("idempotency_key") or "").strip()[:48]
    try:
        result = event_services.register_member(
            event=event,
            member=request.member,
            idempotency_key=f"m{request.member.pk}-{key}",
            source=EventRegistration.Source.CENTRE,
        )
    except DomainError as error:
        if getattr(error, "code", "") == "already_registered":
            messages.success(request, _("You are already signed up for this event."))
        else:
            messages.error(request, refusal_text(error))
        return redirect("centre:events")
    except ValidationError:
        messages.error(request, _("The form has expired. Please try again."))
        return redirect("centre:events")
    messages.success(request, signed_up_text(result))
    return redirect("centre:events")


@member_required
@require_POST
def event_cancel(request, registration_id: int):
    registration = get_object_or_404(EventRegistration, pk=registration_id, member=request.member)
    try:
        event_services.cancel_registration(registration=registration)
    except DomainError as error:
        messages.error(request, refusal_text(error))
    else:
        messages.success(request, _("Your sign-up has been cancelled."))
    return redirect("centre:events")


def event_image(request, event_id: int):
    event = get_object_or_404(Event, pk=event_id)
    if not event.image:
        raise Http404(_("No image."))
    return FileResponse(event.image.open("rb"))


@require_http_methods(["GET", "POST"])
def event_link(request, token: str):
    """The invitation's sign-up page: the token names the event and the member."""
    data = event_links.read_token(token)
    event = member = None
    if data is not None:
        event = Event.objects.select_related("store").filter(pk=data.event_id).first()
        member = Member.objects.active().filter(member_no=data.member_no).first()
    if event is None or member is None:
        return render(request, "centre/event_link.html", {"invalid": True}, status=400)
    registration = event_selectors.active_registration(event, member)
    context = {"event": event, "member": member, "registration": registration, "token": token}
    if request.method == "POST" and registration is None:
        try:
            result = event_services.register_member(
                event=event,
                member=member,
                idempotency_key=f"link-{member.pk}-{(request.POST.get('idempotency_key') or '')[:40]}",
                source=EventRegistration.Source.LINK,
            )
        except (DomainError, ValidationError) as error:
            context["error"] = refusal_text(error)
            return render(request, "centre/event_link.html", context, status=409)
        context["registration"] = result.registration
        context["done"] = signed_up_text(result)
    if context["registration"] is not None:
        context["position"] = event_selectors.position_of(context["registration"])
    context["refusal"] = event_services.signup_refusal(event, timezone.now())
    context["key"] = uuid.uuid4().hex
    return render(request, "centre/event_link.html", context)
