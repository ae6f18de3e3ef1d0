"""Public feedback pages (no account) and the staff-only photo view."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from feedback import services, surveys
from feedback.forms import SERVICE_FIELD_ALIASES, FeedbackForm, SurveyForm
from feedback.models import Attachment, SurveyResponse, Ticket
from feedback.netaddr import client_ip
from feedback.prefill import purchase_from_token
from members.forms import add_service_errors

THANKS_SALT = "feedback.thanks"
THANKS_MAX_AGE = 24 * 60 * 60
VIEW_ATTACHMENT = "feedback.view_attachment"


def form_rate() -> tuple[int, int]:
    """(submissions, seconds) allowed per IP address on the public form."""
    return tuple(getattr(settings, "FEEDBACK_FORM_RATE", (5, 10 * 60)))


def take_rate_slot(request) -> int:
    """Count one submission for this IP; returns 0 when allowed, else seconds until the next window."""
    limit, window = form_rate()
    now = time.time()
    slot = int(now // window)
    key = f"feedback:form-rate:{client_ip(request)}:{slot}"
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)
        count = 1
    if count > limit:
        return max(1, int((slot + 1) * window - now) + 1)
    return 0


def _contact_channel(ticket: Ticket) -> str:
    if ticket.email:
        return "email"
    if ticket.phone:
        return "phone"
    return ""


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def feedback_form(request):
    # `?purchase=` (GET) / `purchase` (POST): a signed purchase from the member centre (feedback.prefill).
    source = request.GET if request.method == "GET" else request.POST
    purchase = purchase_from_token(source.get("purchase", ""))
    if request.method == "GET":
        return render(request, "feedback/form.html", {"form": FeedbackForm(purchase=purchase)})
    retry_after = take_rate_slot(request)
    if retry_after:
        response = render(
            request, "feedback/rate_limited.html", {"retry_minutes": (retry_after + 59) // 60}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response
    form = FeedbackForm(request.POST, request.FILES, purchase=purchase)
    if request.POST.get("website"):
        # A bot filled the hidden field: refuse without saying why, store nothing.
        form.is_valid()
        form.errors.clear()
        form.add_error(None, _("Your message could not be sent. Please try again later."))
        return render(request, "feedback/form.html", {"form": form}, status=400)
    if form.is_valid():
        try:
            ticket = services.submit_feedback(
                **form.service_arguments(),
                channel=Ticket.Channel.WEB,
                language=translation.get_language() or "",
            )
        except ValidationError as error:
            add_service_errors(form, error, aliases=SERVICE_FIELD_ALIASES)
        else:
            token = signing.dumps({"t": ticket.ticket_no, "c": _contact_channel(ticket)}, salt=THANKS_SALT)
            return redirect(f"{reverse('feedback:thanks', args=[ticket.ticket_no])}?k={token}")
    return render(request, "feedback/form.html", {"form": form}, status=400)


@never_cache
def feedback_thanks(request, ticket_no: str):
    """Shows only the ticket number and how the customer will hear back, and only with the signed
    value the form put in the redirect, so nobody learns anything about others' tickets."""
    try:
        data = signing.loads(request.GET.get("k", ""), salt=THANKS_SALT, max_age=THANKS_MAX_AGE)
    except signing.BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("t") != ticket_no:
        return render(request, "feedback/thanks_invalid.html", status=404)
    return render(request, "feedback/thanks.html", {"ticket_no": ticket_no, "contact": data.get("c", "")})


@never_cache
def attachment_view(request, pk: int):
    """A customer's photo, for staff allowed to see attachments."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.has_perm(VIEW_ATTACHMENT):
        raise PermissionDenied
    attachment = get_object_or_404(Attachment, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("The file of this attachment is missing.")) from None
    response = FileResponse(handle, content_type=attachment.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- surveys ----------------------------------------------------------------------------------

SURVEY_REFUSALS = {
    surveys.SurveyLinkInvalid: (400, "invalid"),
    surveys.SurveyLinkExpired: (410, "expired"),
    surveys.SurveyAlreadyAnswered: (410, "answered"),
    surveys.SurveyTicketNotResolved: (409, "not_resolved"),
}


def _survey_refused(request, error):
    status, reason = SURVEY_REFUSALS[type(error)]
    context = {"reason": reason, "max_age_days": surveys.max_age().days}
    return render(request, "feedback/survey_refused.html", context, status=status)


def _survey(request, token: str, kind: str):
    try:
        invite = surveys.open_survey(token=token, kind=kind)
    except tuple(SURVEY_REFUSALS) as error:
        return _survey_refused(request, error)
    form = SurveyForm(request.POST or None, scores=invite.scores)
    if request.method == "POST" and form.is_valid():
        try:
            surveys.record_survey_response(
                token=token, kind=kind, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
            )
        except tuple(SURVEY_REFUSALS) as error:
            return _survey_refused(request, error)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return render(request, "feedback/survey_thanks.html", {"kind": kind})
    status = 400 if request.method == "POST" else 200
    return render(request, "feedback/survey.html", {"form": form, "invite": invite, "kind": kind}, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def csat_survey(request, token: str):
    """The customer rates how a resolved ticket was handled (1–5 and a comment)."""
    return _survey(request, token, SurveyResponse.Kind.CSAT)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def nps_survey(request, token: str):
    """How likely a member is to recommend the shop (0–10 and a comment)."""
    return _survey(request, token, SurveyResponse.Kind.NPS)
