from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from loyalty_crm.errors import DomainError


def exception_handler(exc, context):
    """DRF's handler, plus: domain errors → their status (409) with `{"code", "detail"}`;
    Django validation errors raised by services → 400 with field errors, like serializers;
    a body above DATA_UPLOAD_MAX_MEMORY_SIZE → 400 in JSON (Django's own answer is a page)."""
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": str(exc.detail)}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            body = {field: [str(m) for m in errors] for field, errors in exc.message_dict.items()}
        else:
            body = {"non_field_errors": [str(m) for m in exc.messages]}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        detail = _("The request body is larger than %(max)d bytes.") % {"max": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
        return Response({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    """The project's 404 handler (`handler404`): under /api/ a path no route matches (`/rewards/abc/`
    where an id is a number) answers like every other API 404, JSON `{"detail": ...}`; elsewhere
    Django's HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(NotFound.default_detail)}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
