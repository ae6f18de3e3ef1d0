"""members.masking: one spelling of masked phone, email and birthday, for every list."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

from members import masking


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        ("+8613800138000", "138****8000"),
        ("13800138000", "138****8000"),
        ("+86 138-0013-8000", "138****8000"),
        ("+861012345678", "010****5678"),  # a Beijing landline keeps its trunk prefix
        ("+447911123456", "+44 791****3456"),
        ("+12025550123", "+1 202****0123"),
        ("12345", "****45"),  # not a valid number: never more than a few digits
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone_keeps_the_first_three_and_last_four_digits_of_the_number_as_dialled_at_home(phone, shown):
    assert masking.mask_phone(phone, home_region="CN") == shown


def test_mask_phone_follows_the_home_region():
    assert masking.mask_phone("+8613800138000", home_region="GB") == "+86 138****8000"
    assert masking.mask_phone("+447911123456", home_region="GB") == "079****3456"


def test_mask_phone_defaults_to_the_phone_default_region_setting(settings):
    settings.PHONE_DEFAULT_REGION = "CN"
    assert masking.mask_phone("+8613800138000") == "138****8000"


@pytest.mark.parametrize(
    ("email", "shown"),
    [
        ("zhang@example.com", "z***@example.com"),
        ("Li.Hua@Example.com", "L***@Example.com"),
        ("a@b.cn", "a***@b.cn"),
        ("no-at-sign", "***"),
        ("@example.com", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_email_keeps_the_first_character_of_the_local_part_and_the_domain(email, shown):
    assert masking.mask_email(email) == shown


def test_mask_birthday_drops_the_year():
    assert masking.mask_birthday(datetime.date(1990, 5, 20)) == "05-20"
    assert masking.mask_birthday(None) is None


def test_birthday_display_is_localised_without_the_year_and_iso_in_clear():
    from django.utils import translation

    day = datetime.date(1990, 5, 20)
    with translation.override("zh-hans"):
        assert masking.birthday_display(day, clear=False) == "05月20日"
    with translation.override("en"):
        assert masking.birthday_display(day, clear=False) == "May 20"
    assert masking.birthday_display(day, clear=True) == "1990-05-20"
    assert masking.birthday_display(None, clear=False) == ""


def test_contact_values_masks_everything_unless_clear():
    member = SimpleNamespace(phone="+8613800138000", email="zhang@example.com", birthday=datetime.date(1990, 5, 20))

    masked = masking.contact_values(member, clear=False, home_region="CN")
    clear = masking.contact_values(member, clear=True, home_region="CN")

    assert masked == masking.ContactValues("138****8000", "z***@example.com", "05-20", masked=True)
    assert clear == masking.ContactValues("+8613800138000", "zhang@example.com", "1990-05-20", masked=False)


def test_contact_values_keep_absent_values_absent():
    member = SimpleNamespace(phone=None, email=None, birthday=None)

    assert masking.contact_values(member, clear=False) == masking.ContactValues(None, None, None, masked=True)
