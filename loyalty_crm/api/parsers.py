"""The API's request-body parsers (`REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`): DRF's, plus the
project's input rules (`loyalty_crm.inputs`) applied once to every body before any view sees it.

- JSON: nesting beyond `API_JSON_MAX_DEPTH` levels is refused with 400 (a body nested a thousand
  levels deep made the decoder raise RecursionError, a 500), and so is a NUL character or a lone
  surrogate in any key or value, answered as a field error keyed by the key path
  (`{"items[0].sku": [...]}`).
- Forms (urlencoded and multipart): the same in a field name, a value or an uploaded file's name.
The body size stays bounded by Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (DRF reads JSON and form
bodies through `request.body`, which enforces it).
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings

from loyalty_crm import inputs


def refuse(field: str, message: str) -> ParseError:
    return ParseError({field or api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="invalid_text")


def first_problem(pairs) -> tuple[str, str] | None:
    """`(name, message)` for the first of `(name, [texts])` pairs whose name or a text cannot be
    stored (`inputs.text_problem`), or None. Shared with loyalty_crm.middleware."""
    for name, texts in pairs:
        for text in (name, *texts):
            problem = inputs.text_problem(text) if isinstance(text, str) else None
            if problem:
                return inputs.shown(name), problem
    return None


def form_problem(data, files=None) -> tuple[str, str] | None:
    """The first form field whose name, value or uploaded file's name cannot be stored."""
    file_names = [(key, [upload.name or "" for upload in uploads]) for key, uploads in files.lists()] if files else []
    return first_problem(data.lists()) or first_problem(file_names)


# In UTF-8 JSON text, a NUL character or a lone surrogate can only come from one of these escapes
# (the decoder refuses raw control characters in strings, and UTF-8 has no surrogates).
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def too_deep(max_depth: int) -> ParseError:
    return ParseError(_("The JSON is nested more than %(max)d levels deep.") % {"max": max_depth}, code="too_deep")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        max_depth = settings.API_JSON_MAX_DEPTH
        raw = stream.read()
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise too_deep(max_depth) from None
        if inputs.json_too_deep(data, max_depth):
            raise too_deep(max_depth)
        # Walking a large body for unstorable text is skipped when its bytes cannot hold any
        # (the walk cost 7% of a 500-purchase batch); a body that might is walked as before.
        utf8 = parsers.get_encoding(parser_context or {}).lower().replace("_", "-") in ("utf-8", "utf8")
        if not utf8 or b"\x00" in raw or UNSTORABLE_ESCAPE.search(raw):
            found = inputs.text_problem_path(data)
            if found:
                raise refuse(*found)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        found = form_problem(data)
        if found:
            raise refuse(*found)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        found = form_problem(parsed.data, parsed.files)
        if found:
            raise refuse(*found)
        return parsed
