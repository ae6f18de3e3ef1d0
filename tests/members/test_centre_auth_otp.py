"""One-time sign-in codes (members.services.otp): limits, lockout, expiry, single use, no logging."""

from __future__ import annotations

import datetime
import logging

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from members import services
from members.models import OtpChallenge
from members.tasks import prune_centre_sign_in
from tests.members.centre_helpers import PHONE, last_code, sms_count

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 6, 1, 10, 0, tzinfo=datetime.UTC)


def test_a_code_is_sent_by_sms_and_stored_only_hashed():
    services.request_code(PHONE, client_ip="203.0.113.5")
    code = last_code()

    assert len(code) == 6 and code.isdigit()
    stored = " ".join(str(value) for value in OtpChallenge.objects.values_list().get())
    assert code not in stored and PHONE not in stored and "203.0.113.5" not in stored


def test_the_code_signs_in_once_only():
    services.request_code(PHONE, client_ip="203.0.113.5")
    code = last_code()
    assert services.verify_code(PHONE, code) is True
    assert services.verify_code(PHONE, code) is False


def test_the_phone_may_be_written_in_any_accepted_format():
    services.request_code("138 0013 8000")
    assert services.verify_code("+8613800138000", last_code()) is True


def test_a_malformed_phone_is_refused_naming_it():
    with pytest.raises(ValidationError) as error:
        services.request_code("12345")
    assert "12345" in str(error.value)
    assert services.verify_code("12345", "123456") is False


def test_five_wrong_tries_kill_the_code():
    services.request_code(PHONE)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _try in range(5):
        assert services.verify_code(PHONE, wrong) is False
    assert services.verify_code(PHONE, code) is False  # the right code no longer works
    assert OtpChallenge.objects.get().failed_attempts == 5


def test_four_wrong_tries_still_leave_the_right_code_usable():
    services.request_code(PHONE)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _try in range(4):
        assert services.verify_code(PHONE, wrong) is False
    assert services.verify_code(PHONE, code) is True


def test_a_code_expires_after_five_minutes():
    with time_machine.travel(START, tick=False) as traveller:
        services.request_code(PHONE)
        code = last_code()
        traveller.shift(datetime.timedelta(minutes=5, seconds=1))
        assert services.verify_code(PHONE, code) is False


def test_a_code_still_works_just_before_five_minutes():
    with time_machine.travel(START, tick=False) as traveller:
        services.request_code(PHONE)
        code = last_code()
        traveller.shift(datetime.timedelta(minutes=4, seconds=59))
        assert services.verify_code(PHONE, code) is True


def test_a_newer_code_supersedes_the_older_one():
    with time_machine.travel(START, tick=False) as traveller:
        services.request_code(PHONE)
        first = last_code()
        traveller.shift(datetime.timedelta(seconds=61))
        services.request_code(PHONE)
        second = last_code()
        if first != second:
            assert services.verify_code(PHONE, first) is False
        assert services.verify_code(PHONE, second) is True


def test_one_code_a_minute_per_phone():
    with time_machine.travel(START, tick=False) as traveller:
        services.request_code(PHONE)
        traveller.shift(datetime.timedelta(seconds=20))
        with pytest.raises(services.OtpRefused) as refused:
            services.request_code(PHONE)
        assert refused.value.code == "otp_too_soon"
        assert refused.value.retry_after == 40
        assert refused.value.status_code == 429
        traveller.shift(datetime.timedelta(seconds=41))
        services.request_code(PHONE)
    assert sms_count() == 2


def test_ten_codes_an_hour_per_phone():
    with time_machine.travel(START, tick=False) as traveller:
        for _n in range(10):
            services.request_code(PHONE)
            traveller.shift(datetime.timedelta(seconds=61))
        with pytest.raises(services.OtpRefused) as refused:
            services.request_code(PHONE)
        assert refused.value.code == "otp_hourly_limit"
        # The first of the ten leaves the hour 60 minutes after it was sent.
        assert refused.value.retry_after == 3600 - 10 * 61
        traveller.shift(datetime.timedelta(seconds=refused.value.retry_after + 1))
        services.request_code(PHONE)
    assert sms_count() == 11


def test_a_limit_per_client_address(settings):
    settings.OTP_ADDRESS_HOURLY_LIMIT = 3
    phones = ["13800138001", "13800138002", "13800138003", "13800138004"]
    for phone in phones[:3]:
        services.request_code(phone, client_ip="198.51.100.7")
    with pytest.raises(services.OtpRefused) as refused:
        services.request_code(phones[3], client_ip="198.51.100.7")
    assert refused.value.code == "otp_address_limit"
    assert refused.value.retry_after > 3500
    services.request_code(phones[3], client_ip="198.51.100.8")  # another address is not held back


def test_works_for_a_phone_that_is_no_member_yet():
    assert not services.verify_code(PHONE, "000000")
    services.request_code(PHONE, purpose=OtpChallenge.Purpose.JOIN)
    assert services.verify_code(PHONE, last_code())


def test_the_code_never_reaches_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    services.request_code(PHONE, client_ip="203.0.113.5")
    code = last_code()
    services.verify_code(PHONE, "000001")
    services.verify_code(PHONE, code)
    text = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert code not in text
    assert "13800138000" not in text


def test_nightly_pruning_drops_day_old_codes():
    with time_machine.travel(START, tick=False) as traveller:
        services.request_code(PHONE)
        traveller.shift(datetime.timedelta(days=1, minutes=1))
        services.request_code("13800138009")
        assert prune_centre_sign_in() == 1
    assert OtpChallenge.objects.count() == 1
    assert OtpChallenge.objects.get().created_at > START + datetime.timedelta(days=1)


def test_verify_counts_a_malformed_code_as_a_wrong_try():
    services.request_code(PHONE)
    assert services.verify_code(PHONE, "abc") is False
    assert services.verify_code(PHONE, "") is False
    assert OtpChallenge.objects.get().failed_attempts == 2
    assert timezone.now() < OtpChallenge.objects.get().expires_at
