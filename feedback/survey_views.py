"""The public page of a designed survey (`/survey/s/<token>/`): mobile first, answered once
through a personal link; a used, expired, closed or forged link gets a clear 4xx page."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from feedback import survey_forms, surveys
from feedback.services import questionnaires

REFUSALS = {
    surveys.SurveyLinkInvalid: (400, "invalid"),
    surveys.SurveyLinkExpired: (410, "expired"),
    surveys.SurveyAlreadyAnswered: (410, "answered"),
    questionnaires.SurveyClosed: (410, "closed"),
}


def _refused(request, error, days: int):
    status, reason = REFUSALS[type(error)]
    return render(request, "feedback/survey_refused.html", {"reason": reason, "max_age_days": days}, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def designed_survey(request, token: str):
    try:
        link = questionnaires.open_link(token=token)
    except tuple(REFUSALS) as error:
        return _refused(request, error, _link_days(token))
    definition = link.version.definition
    raw, errors = {}, {}
    if request.method == "POST":
        raw = survey_forms.raw_answers(request.POST, definition)
        try:
            questionnaires.answer_link(token=token, raw=raw)
        except tuple(REFUSALS) as error:
            return _refused(request, error, link.survey.link_valid_days)
        except ValidationError as error:
            errors = survey_forms.error_dict(error)
        else:
            return render(request, "feedback/survey_thanks.html", {"kind": "form"})
    context = {
        "survey": link.survey,
        "rows": survey_forms.question_rows(definition, raw, errors),
        "form_error": errors.get("__all__", ""),
        "has_errors": bool(errors),
    }
    response = render(request, "feedback/designed_survey.html", context, status=400 if errors else 200)
    # The token is in the address: never sent to another site ("no-referrer" would make the form post
    # Origin: null, which CSRF refuses).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _link_days(token: str) -> int:
    """How long the survey's links are valid, for the "expired" page (14 when the token is unreadable)."""
    from django.core import signing

    from feedback.models import SurveyLink

    try:
        data = signing.loads(token, salt=questionnaires.LINK_SALT)
        link = SurveyLink.objects.select_related("survey").filter(pk=int(data["l"])).first()
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        link = None
    return link.survey.link_valid_days if link else 14
