"""The API's request-body parsers (`REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`): DRF's, plus the
project's input rules (`loyalty_crm.inputs`) applied once to every body before any view sees it.

- JSON: nesting beyond `API_JSON_MAX_DEPTH` levels is refused with 400 (a body nested a thousand
  levels deep made the decoder raise RecursionError, a 500), and so is a NUL character in any key
  or value, answered as a field error keyed by the key path (`{"items[0].sku": [...]}`).
- Forms (urlencoded and multipart): a NUL in a field name, a value or an uploaded file's name.
The body size stays bounded by Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (DRF reads JSON and form
bodies through `request.body`, which enforces it).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings

from loyalty_crm import inputs


def refuse_nul(field: str) -> ParseError:
    return ParseError({field or api_settings.NON_FIELD_ERRORS_KEY: [inputs.NUL_MESSAGE]}, code="null_character")


def check_form(data, files=None) -> None:
    """Raise ParseError naming the first form field whose name, value or file name holds a NUL."""
    for key, values in data.lists():
        if inputs.NUL in key or any(isinstance(value, str) and inputs.NUL in value for value in values):
            raise refuse_nul(inputs.shown(key))
    for key, uploads in files.lists() if files is not None else ():
        if inputs.NUL in key or any(inputs.NUL in (upload.name or "") for upload in uploads):
            raise refuse_nul(inputs.shown(key))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        max_depth = settings.API_JSON_MAX_DEPTH
        too_deep = ParseError(
            _("The JSON is nested more than %(max)d levels deep.") % {"max": max_depth}, code="too_deep"
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if inputs.json_too_deep(data, max_depth):
            raise too_deep
        path = inputs.nul_path(data)
        if path is not None:
            raise refuse_nul(path)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        check_form(parsed.data, parsed.files)
        return parsed
