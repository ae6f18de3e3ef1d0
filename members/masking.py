"""How a member's contact data is shown where it need not be read in full (PIPL's 最小必要).

Pure functions, no ORM: every list, search result and preview of members shows phone, email and
birthday through these, for every role; the clear value appears only on one member's detail, for
users holding `members.view_contact_details` (`members.services.reveal_contact_details`).

One spelling everywhere:
- phone: the first 3 and last 4 digits of the number as dialled at home, the middle as `****`
  (`+8613800138000` → `138****8000`); a number of another country keeps its calling code in
  front (`+44 791****3456`). A stored value that is not a valid number still shows no more than
  3 + 4 digits.
- email: the first character of the local part (`zhang@example.com` → `z***@example.com`).
- birthday: month and day, never the year (`05-20`; `birthday_display` localises it, "05月20日").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import phonenumbers

HIDDEN = "****"


def _home_region() -> str:
    from django.conf import settings

    return settings.PHONE_DEFAULT_REGION


def _mask_digits(digits: str) -> str:
    if len(digits) >= 9:
        return digits[:3] + HIDDEN + digits[-4:]
    # Short numbers: keeping 3 + 4 digits would show nearly all of them.
    return HIDDEN + digits[-2:] if len(digits) > 4 else HIDDEN


def mask_phone(phone: str | None, *, home_region: str | None = None) -> str:
    """`+8613800138000` → `138****8000`; `+447911123456` → `+44 791****3456`; `""` for no phone.

    `home_region` defaults to the `PHONE_DEFAULT_REGION` setting.
    """
    text = (phone or "").strip()
    if not text:
        return ""
    home_region = home_region or _home_region()
    try:
        number = phonenumbers.parse(text, home_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return _mask_digits("".join(ch for ch in text if ch.isdigit()))
    if number.country_code == phonenumbers.country_code_for_region(home_region):
        # The national form keeps a trunk prefix ("010 …" for a Beijing landline).
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return _mask_digits("".join(ch for ch in national if ch.isdigit()))
    return f"+{number.country_code} " + _mask_digits(phonenumbers.national_significant_number(number))


def mask_email(email: str | None) -> str:
    """`zhang@example.com` → `z***@example.com`; `""` for no email."""
    text = (email or "").strip()
    if not text:
        return ""
    local, _sep, domain = text.rpartition("@")
    if not local or not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_birthday(birthday: datetime.date | None) -> str | None:
    """`1990-05-20` → `05-20` (no year); None for no birthday."""
    return birthday.strftime("%m-%d") if birthday else None


def birthday_display(birthday: datetime.date | None, *, clear: bool) -> str:
    """For pages: the full date in clear, else month and day in the active language's
    MONTH_DAY_FORMAT ("05月20日", "May 20")."""
    from django.utils.formats import date_format

    if not birthday:
        return ""
    return birthday.isoformat() if clear else date_format(birthday, "MONTH_DAY_FORMAT")


@dataclass(frozen=True)
class ContactValues:
    """A member's phone, email and birthday as one reader may see them."""

    phone: str | None
    email: str | None
    birthday: str | None  # "YYYY-MM-DD" in clear, "MM-DD" masked
    masked: bool


def contact_values(member, *, clear: bool, home_region: str | None = None) -> ContactValues:
    """The member's contact data in clear (`clear=True`) or masked; absent values stay None."""
    if clear:
        birthday = member.birthday.isoformat() if member.birthday else None
        return ContactValues(phone=member.phone, email=member.email, birthday=birthday, masked=False)
    return ContactValues(
        phone=mask_phone(member.phone, home_region=home_region) or None,
        email=mask_email(member.email) or None,
        birthday=mask_birthday(member.birthday),
        masked=True,
    )
