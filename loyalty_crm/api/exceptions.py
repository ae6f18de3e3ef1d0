from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from loyalty_crm.errors import DomainError


def exception_handler(exc, context):
    """DRF's handler, plus: domain errors → their status (409) with `{"code", "detail"}`;
    Django validation errors raised by services → 400 with field errors, like serializers."""
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": str(exc.detail)}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            body = {field: [str(m) for m in errors] for field, errors in exc.message_dict.items()}
        else:
            body = {"non_field_errors": [str(m) for m in exc.messages]}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
