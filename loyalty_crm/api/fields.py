"""The API's date and time fields: DRF's, refusing what `loyalty_crm.inputs` refuses (dates
before 1900, UTC offsets beyond ±15:59 or not whole minutes, local mean time) with a 400 naming
the field. `install()` (run by the app's `ready()`) makes them what every ModelSerializer builds for
model date and datetime fields; declared fields use these classes (tests/test_input_hardening.py
checks every serializer of the API).
"""

from __future__ import annotations

import contextlib
import datetime

from django.db import models
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from loyalty_crm import inputs


class DateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        written = value
        if isinstance(value, str):
            # As DRF reads ISO 8601, keeping the offset as written (DRF converts it away).
            with contextlib.suppress(ValueError, TypeError):
                written = parse_datetime(value)
        if isinstance(written, datetime.datetime):
            problem = inputs.datetime_problem(written)
            if problem:
                raise serializers.ValidationError(problem, code="out_of_range")
        return super().to_internal_value(value)


class DateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        problem = inputs.date_problem(day)
        if problem:
            raise serializers.ValidationError(problem, code="out_of_range")
        return day


def install() -> None:
    """Every ModelSerializer (the project's and any to come) maps model dates and datetimes to
    the fields above: DRF's mapping is the one place a serializer field class is chosen."""
    mapping = serializers.ModelSerializer.serializer_field_mapping
    mapping[models.DateTimeField] = DateTimeField
    mapping[models.DateField] = DateField
