"""Normalising phone numbers and emails before they are hashed or stored."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from loyalty_crm import crypto


def normalise_phone(raw: str) -> str:
    """Return the number in E.164 (`+8613812345678`); Chinese mobiles may omit `+86`.

    Raises ValidationError naming the value when it is not a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(text, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."), code="invalid_phone", params={"value": text}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    text = (raw or "").strip()
    validate_email(text)
    local, _sep, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """The form of an email that is hashed: case-insensitive."""
    return email.strip().lower()


def phone_hashes(raw: str) -> list[str]:
    """Lookup hashes for a phone in any accepted format; [] when it is not a phone number."""
    try:
        return crypto.lookup_hashes(normalise_phone(raw))
    except ValidationError:
        return []


def email_hashes(raw: str) -> list[str]:
    text = (raw or "").strip()
    return crypto.lookup_hashes(email_key(text)) if "@" in text else []
