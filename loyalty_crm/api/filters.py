"""django-filter's date and time filters, refusing what `loyalty_crm.inputs` refuses (the 500 of
`?registered_after=2020-01-01T00:00:00+16:00` on PostgreSQL, years before 1900) with a 400
naming the filter. `install()` (run by the app's `ready()`) makes them what every FilterSet
generates for model date and datetime fields; declared filters use these classes
(tests/test_input_hardening.py checks every filter of the API).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_filters import fields as filter_fields
from django_filters import filterset
from django_filters.rest_framework import filterset as rest_filterset

from loyalty_crm import inputs


class _CheckedDateTime:
    def to_python(self, value):
        result = super().to_python(value)
        if result is not None:
            problem = inputs.datetime_problem(result)
            if problem:
                raise ValidationError(problem, code="out_of_range")
        return result


class IsoDateTimeField(_CheckedDateTime, filter_fields.IsoDateTimeField):
    pass


class DateTimeField(_CheckedDateTime, forms.DateTimeField):
    pass


class DateField(forms.DateField):
    def to_python(self, value):
        result = super().to_python(value)
        if result is not None:
            problem = inputs.date_problem(result)
            if problem:
                raise ValidationError(problem, code="out_of_range")
        return result


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeField


class DateTimeFilter(django_filters.DateTimeFilter):
    field_class = DateTimeField


class DateFilter(django_filters.DateFilter):
    field_class = DateField


def install() -> None:
    """Filters generated from model fields (`Meta.fields`, `filterset_fields`) use the classes
    above, in both of django-filter's FilterSet flavours."""
    filterset.FILTER_FOR_DBFIELD_DEFAULTS[models.DateTimeField] = {"filter_class": DateTimeFilter}
    filterset.FILTER_FOR_DBFIELD_DEFAULTS[models.DateField] = {"filter_class": DateFilter}
    rest_filterset.FILTER_FOR_DBFIELD_DEFAULTS[models.DateTimeField] = {"filter_class": IsoDateTimeFilter}
    rest_filterset.FILTER_FOR_DBFIELD_DEFAULTS[models.DateField] = {"filter_class": DateFilter}
