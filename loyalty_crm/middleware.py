"""Refuse a NUL character (or a lone surrogate) in whatever the project reads from a request
outside its body parsers (`loyalty_crm.inputs.text_problem`).

PostgreSQL text cannot hold U+0000: a lookup with one (`/api/v1/members/%00/`, `?store=%00`, an
admin `?preview=%00`, a session cookie) raised DataError, a 500. This middleware answers 400
naming the input, before any view or database sees it:

- path parameters (named by the URL's parameter: `member_no`), the query string (by parameter),
  cookies and request headers (by name);
- form bodies (`request.POST`, uploaded file names) of Django views: the admin, the public forms.
  The API's bodies (JSON, forms, multipart, whatever the method) are checked by its parsers
  (`loyalty_crm.api.parsers`), which are the only reader of them.

API views get `{"<field>": ["Null characters are not allowed."]}`; other views a 400 page in the
user's language. It runs in `process_view`, after LocaleMiddleware chose the language and before
CsrfViewMiddleware reads the form.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from rest_framework.views import APIView

from loyalty_crm import inputs
from loyalty_crm.api.parsers import first_problem, form_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def text_problem(request, view_args, view_kwargs, *, read_form: bool) -> tuple[str, str] | None:
    """`(name, message)` for the first input of the request that cannot be stored, or None."""
    for name, value in view_kwargs.items():
        problem = inputs.text_problem(str(value))
        if problem:
            return name, problem
    for value in (*view_args, request.path):
        problem = inputs.text_problem(str(value))
        if problem:
            return "path", problem
    headers = [
        (name[5:].replace("_", "-").title(), [value])
        for name, value in request.META.items()
        if name.startswith("HTTP_")
    ]
    found = (
        first_problem(request.GET.lists())
        or first_problem((name, [value]) for name, value in request.COOKIES.items())
        or first_problem(headers)
    )
    if found is None and read_form and request.method == "POST" and request.content_type in FORM_TYPES:
        found = form_problem(request.POST, request.FILES)
    return found


def is_api_view(view_func) -> bool:
    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        api = is_api_view(view_func)
        try:
            found = text_problem(request, view_args, view_kwargs, read_form=not api)
        except MultiPartParserError:
            return self._refuse(request, api, "body", _("The form data could not be read."))
        if found is None:
            return None
        return self._refuse(request, api, *found)

    def _refuse(self, request, api: bool, field: str, message: str):
        if api:
            return JsonResponse({field: [message]}, status=400)
        page = render_to_string("loyalty_crm/bad_request.html", {"field": field, "message": message}, request)
        return HttpResponseBadRequest(page)
