"""Rules every input of the project obeys, whatever reads it (pure functions, no ORM, no request).

- No NUL character (U+0000) anywhere: PostgreSQL text cannot hold one, so a lookup or a write
  with one fails in the database (a 500) instead of being refused; nor a lone surrogate, which
  has no UTF-8 form (`text_problem`). `text_problem_path` finds the first such text in parsed
  JSON and names where it is (`items[0].sku`).
- JSON no deeper than `settings.API_JSON_MAX_DEPTH` levels (`json_too_deep`).
- Dates from 1900 on, and UTC offsets as RFC 3339 and PostgreSQL accept them: whole minutes,
  at most ±15:59 (`datetime_problem`, `date_problem`). Before 1900 the time zone database gives
  China its local mean time (+08:05:43), which no RFC 3339 client can read back.

The API's parsers and fields, the middleware and the CSV imports apply these; each answers with
its own message naming the field, the key path or the CSV line.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

NUL = "\x00"
EARLIEST_YEAR = 1900
MAX_UTC_OFFSET = datetime.timedelta(hours=15, minutes=59)

NUL_MESSAGE = _("Null characters are not allowed.")
SURROGATE_MESSAGE = _("The text is not valid Unicode (it holds a lone surrogate).")
EARLIEST_DATE_MESSAGE = _("Dates before 1900 are not accepted.")
UTC_OFFSET_MESSAGE = _("The UTC offset must be whole minutes between -15:59 and +15:59.")
LOCAL_MEAN_TIME_MESSAGE = _(
    "Times this early have no whole-minute UTC offset in the time zone %(zone)s; enter a later time."
)
OUT_OF_RANGE_MESSAGE = _("The date and time are out of range.")


def shown(text: str) -> str:
    """`text` with its NUL characters and lone surrogates made visible, for a message or a report."""
    return text.replace(NUL, "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def text_problem(text: str) -> str | None:
    """Why a piece of text cannot be stored, or None: a NUL character, or a lone surrogate (JSON's
    `"\\ud800"` escapes to one; it has no UTF-8 form, so the database driver fails on it)."""
    if NUL in text:
        return str(NUL_MESSAGE)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return str(SURROGATE_MESSAGE)
    return None


def _key_path(path: str, key: str) -> str:
    key = shown(key)
    return f"{path}.{key}" if path else key


def text_problem_path(data) -> tuple[str, str] | None:
    """Where the first text that cannot be stored is in parsed JSON, and why: `(key path,
    message)` — `items[0].sku`; `[2]` at the top of an array; `""` for a bare string — or None.
    Keys are checked as well as values. Iterative, so any depth the parser produced is walked
    without recursion."""
    stack: list[tuple[object, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return path, problem
        elif isinstance(value, dict):
            for key in value:
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return _key_path(path, key), problem
            stack.extend((item, _key_path(path, str(key))) for key, item in reversed(value.items()))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value))))
    return None


def json_too_deep(data, max_depth: int) -> bool:
    """Whether parsed JSON nests arrays and objects more than `max_depth` levels (a scalar is
    level 0, `[]` and `{}` level 1). Iterative."""
    if not isinstance(data, dict | list):
        return False
    stack: list[tuple[dict | list, int]] = [(data, 1)]  # containers only: scalars add no level
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return True
        stack.extend(
            (item, depth + 1)
            for item in (value.values() if isinstance(value, dict) else value)
            if isinstance(item, dict | list)
        )
    return False


def datetime_problem(value: datetime.datetime, zone: datetime.tzinfo | None = None) -> str | None:
    """Why a datetime read from input is refused, or None:
    - a UTC offset as written that is not whole minutes within ±15:59 (PostgreSQL refuses more
      than 15:59; RFC 3339 has no seconds);
    - a year before 1900, or a time so early that the current time zone (the one answers are
      written in) kept local mean time then: Asia/Shanghai's +08:05:43, before 1901.
    A naive value is read in the current time zone, as the API and the filters read it (`zone`:
    the current time zone, when the caller has it at hand for many values)."""
    offset = value.utcoffset()
    written = isinstance(value.tzinfo, datetime.timezone) and offset is not None
    if written and (abs(offset) > MAX_UTC_OFFSET or offset % datetime.timedelta(minutes=1)):
        return str(UTC_OFFSET_MESSAGE)
    if value.year < EARLIEST_YEAR:
        return str(EARLIEST_DATE_MESSAGE)
    if zone is None:
        zone = timezone.get_current_timezone()
    try:
        if timezone.is_naive(value):
            local = timezone.make_aware(value, zone)
        else:
            local = timezone.localtime(value, zone)
    except OverflowError:
        return str(OUT_OF_RANGE_MESSAGE)
    if local.year < EARLIEST_YEAR:
        return str(EARLIEST_DATE_MESSAGE)
    if local.utcoffset() % datetime.timedelta(minutes=1):
        return str(LOCAL_MEAN_TIME_MESSAGE % {"zone": timezone.get_current_timezone_name()})
    return None


def date_problem(value: datetime.date) -> str | None:
    """Why a date read from input is refused, or None: a year before 1900."""
    if value.year < EARLIEST_YEAR:
        return str(EARLIEST_DATE_MESSAGE)
    return None
