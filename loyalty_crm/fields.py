"""Model fields that keep personal data encrypted at rest (see `loyalty_crm.crypto`)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from loyalty_crm import crypto


class EncryptedTextField(models.TextField):
    """A text value stored AES-GCM sealed. Only `isnull` can be queried: use a lookup hash."""

    description = _("Encrypted text")

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self.to_python(crypto.decrypt(value))

    def get_prep_value(self, value):
        value = self._to_text(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))

    def _to_text(self, value):
        return value

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise TypeError(
                f"{self.model.__name__}.{self.name} is encrypted and cannot be queried with "
                f"'{lookup_name}'; use its lookup hash."
            )
        return super().get_lookup(lookup_name)

    def formfield(self, **kwargs):
        # A one-line input, not a textarea: these are phone numbers, emails and dates.
        from django import forms

        kwargs.setdefault("widget", forms.TextInput)
        return super().formfield(**kwargs)


class EncryptedDateField(EncryptedTextField):
    """A date stored encrypted (ISO text inside the seal)."""

    description = _("Encrypted date")

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, datetime.date):
            return value or None
        try:
            parsed = parse_date(str(value))
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError(
                _("“%(value)s” is not a valid date (use YYYY-MM-DD)."),
                code="invalid",
                params={"value": value},
            )
        return parsed

    def _to_text(self, value):
        value = self.to_python(value)
        return value.isoformat() if value else value

    def formfield(self, **kwargs):
        from django import forms

        defaults = {"form_class": forms.DateField, "widget": forms.DateInput(attrs={"type": "date"})}
        defaults.update(kwargs)
        return models.Field.formfield(self, **defaults)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return value.isoformat() if value else ""
