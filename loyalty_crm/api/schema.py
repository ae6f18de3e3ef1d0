"""The OpenAPI schema's error answers, documented in one place (API.md "Conventions").

Every operation can fail in ways its view never spells out: DRF answers them before or around the
view. `AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to each operation the ones it can
really give, read from the view itself:

- 400 `ValidationError` (field → messages) when the operation reads a body or any parameter
  (query, path): a malformed or invalid input is refused there;
- 401 `ErrorDetail` for every operation: a missing (where required), unknown or inactive token;
- 403 `ErrorDetail` when a permission class other than AllowAny guards the view;
- 404 `ErrorDetail` when the path names an object (`{member_no}`, `{id}`…), and for paginated
  lists (a page past the end is "Invalid page.");
- 415 `ErrorDetail` when the operation reads a body: a Content-Type no parser of the view reads;
- 429 `ErrorDetail` (with Retry-After) when the view is throttled.

409 `Conflict` (`{code, detail}`, mapped from domain errors in `loyalty_crm.api.exceptions`) is
declared by the views that can give it, with `conflict(...)` naming the codes: only the view knows
which business rules its service enforces.

A status the view declares itself keeps its description; it gets the standard body if it had none.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

ERROR_DETAIL = "ErrorDetail"
VALIDATION_ERROR = "ValidationError"
CONFLICT = "Conflict"

COMPONENTS = {
    ERROR_DETAIL: {
        "type": "object",
        "description": "A refusal with one human sentence.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "description": "Field errors: each invalid field (nested for nested input) with a list of messages; "
        "`non_field_errors` for the body as a whole; `detail` when the body could not be read at all.",
        "additionalProperties": {},
    },
    CONFLICT: {
        "type": "object",
        "description": "A business rule refused the request. `code` is snake_case and stable (the operation "
        "lists its codes); `detail` is a human sentence in the request's language.",
        "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["code", "detail"],
    },
}

DESCRIPTIONS = {
    "400": _("Invalid input: the errors name the fields."),
    "401": _("Not authenticated: no, an unknown or an inactive token."),
    "403": _("Not allowed: the user lacks the permission."),
    "404": _("Not found: no such object, or a page past the end."),
    "409": _("Refused by a business rule: `{code, detail}`."),
    "415": _("Unsupported media type: the operation does not read a body of this Content-Type (send JSON)."),
    "429": _("Too many requests: try again after Retry-After seconds."),
}

BODY_OF = {"400": VALIDATION_ERROR, "401": ERROR_DETAIL, "403": ERROR_DETAIL, "404": ERROR_DETAIL}
BODY_OF |= {"409": CONFLICT, "415": ERROR_DETAIL, "429": ERROR_DETAIL}


def conflict(*codes: str) -> OpenApiResponse:
    """A view's 409 answer, naming the domain-error codes it can give."""
    return OpenApiResponse(
        {"$ref": f"#/components/schemas/{CONFLICT}"},
        description=f"Refused by a business rule; `code` is one of: {', '.join(f'`{c}`' for c in codes)}.",
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers described in the module docstring."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for name, schema in COMPONENTS.items():
            registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
            )
        responses = operation.setdefault("responses", {})
        for code in self.error_codes(operation):
            answer = responses.setdefault(code, {"description": str(DESCRIPTIONS[code])})
            if "content" not in answer:
                body = {"schema": {"$ref": f"#/components/schemas/{BODY_OF[code]}"}}
                answer["content"] = {"application/json": body}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_codes(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        codes = []
        if "requestBody" in operation or parameters:
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
        if any(not isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes.append("403")
        if any(p["in"] == "path" or (p["in"], p["name"]) == ("query", "page") for p in parameters):
            codes.append("404")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes
