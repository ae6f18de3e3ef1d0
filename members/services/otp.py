"""One-time sign-in codes sent by SMS (the member centre, issue 15).

Rules enforced here:
1. A code is 6 digits from `secrets`, sent through `campaigns.channels.send_otp` and stored only as
   an HMAC keyed with SECRET_KEY (with the phone's hash mixed in); the phone and the client address
   are stored only as their lookup hashes. The code is never logged.
2. It is valid for `OTP_VALID_SECONDS` (5 minutes), for one successful use, and dies after
   `OTP_MAX_FAILED_ATTEMPTS` (5) wrong tries. A newer code for the same phone supersedes the older.
3. At most one code a minute and `OTP_PHONE_HOURLY_LIMIT` (10) an hour per phone, and
   `OTP_ADDRESS_HOURLY_LIMIT` (20) an hour per client address. A refusal is `OtpRefused` (HTTP 429)
   with its code (`otp_too_soon`, `otp_hourly_limit`, `otp_address_limit`) and the seconds to wait.
4. Verification locks the challenge row (select_for_update), so two tries at once cannot both use
   one code or both escape the count of failed tries; the compare is constant-time.
It works for a phone that belongs to no member yet (joining).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import crypto
from loyalty_crm.errors import DomainError
from members.models import OtpChallenge
from members.normalize import normalise_phone

CODE_DIGITS = 6
RESEND_AFTER = datetime.timedelta(seconds=60)
HOUR = datetime.timedelta(hours=1)


def valid_for() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.OTP_VALID_SECONDS)


def max_failed_attempts() -> int:
    return settings.OTP_MAX_FAILED_ATTEMPTS


def phone_hourly_limit() -> int:
    return settings.OTP_PHONE_HOURLY_LIMIT


def address_hourly_limit() -> int:
    return settings.OTP_ADDRESS_HOURLY_LIMIT


class OtpRefused(DomainError):
    """No code was sent: a rate limit. `retry_after` is the number of seconds to wait."""

    code = "otp_refused"
    status_code = 429

    def __init__(self, detail: str, *, code: str, retry_after: int):
        super().__init__(detail, code=code)
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class CodeSent:
    expires_at: datetime.datetime
    retry_after: int  # seconds until another code may be asked for


def phone_key(phone: str) -> str:
    """The normalised phone (E.164); ValidationError for a malformed one."""
    return normalise_phone(phone)


def _phone_hash(normalised: str) -> str:
    return crypto.lookup_hash(normalised)


def address_hash(client_ip: str) -> str:
    return crypto.lookup_hash(f"address:{client_ip}") if client_ip else ""


def _code_hash(phone_hash: str, code: str) -> str:
    message = f"member-centre-otp:{phone_hash}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _seconds_until(moment: datetime.datetime, now: datetime.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _check_limits(*, phone_hash: str, client_hash: str, now: datetime.datetime) -> int:
    """Raise OtpRefused when a limit is reached; else the id of the phone's latest code (0: none)."""
    rows = list(
        OtpChallenge.objects.filter(phone_hash=phone_hash, created_at__gt=now - HOUR)
        .order_by("-created_at", "-id")
        .values_list("created_at", "id")[: phone_hourly_limit()]
    )
    recent = [created_at for created_at, _pk in rows]
    if recent and recent[0] > now - RESEND_AFTER:
        wait = _seconds_until(recent[0] + RESEND_AFTER, now)
        raise OtpRefused(
            _("A code was sent less than a minute ago. Ask for a new one in %(seconds)d seconds.") % {"seconds": wait},
            code="otp_too_soon",
            retry_after=wait,
        )
    if len(recent) >= phone_hourly_limit():
        wait = _seconds_until(recent[-1] + HOUR, now)
        raise OtpRefused(
            _("Too many codes were sent to this phone in the last hour. Try again in %(minutes)d minutes.")
            % {"minutes": math.ceil(wait / 60)},
            code="otp_hourly_limit",
            retry_after=wait,
        )
    if client_hash:
        from_address = list(
            OtpChallenge.objects.filter(client_hash=client_hash, created_at__gt=now - HOUR)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[: address_hourly_limit()]
        )
        if len(from_address) >= address_hourly_limit():
            wait = _seconds_until(from_address[-1] + HOUR, now)
            raise OtpRefused(
                _("Too many codes were asked for from this network in the last hour. Try again in %(minutes)d minutes.")
                % {"minutes": math.ceil(wait / 60)},
                code="otp_address_limit",
                retry_after=wait,
            )
    return rows[0][1] if rows else 0


def request_code(phone: str, *, purpose: str = OtpChallenge.Purpose.SIGN_IN, client_ip: str = "") -> CodeSent:
    """Send a new sign-in code to `phone` (rules 1–3 of the module). Raises ValidationError for a
    malformed phone and OtpRefused when a limit is reached; nothing is sent then."""
    if purpose not in OtpChallenge.Purpose.values:
        raise ValidationError({"purpose": [_("Unknown purpose.")]})
    normalised = phone_key(phone)
    phone_hash = _phone_hash(normalised)
    client_hash = address_hash(client_ip)
    now = timezone.now()
    latest = _check_limits(phone_hash=phone_hash, client_hash=client_hash, now=now)
    # Two requests that passed the checks above at once saw the same latest code: only the first
    # may send (the key names that code, so the next minute's request is not held back by it).
    if not cache.add(f"member-otp-send:{phone_hash}:{latest}", 1, timeout=3600):
        raise OtpRefused(
            _("A code was sent less than a minute ago. Ask for a new one in %(seconds)d seconds.")
            % {"seconds": int(RESEND_AFTER.total_seconds())},
            code="otp_too_soon",
            retry_after=int(RESEND_AFTER.total_seconds()),
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        # A newer code supersedes the older ones still live.
        OtpChallenge.objects.filter(phone_hash=phone_hash, used_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        challenge = OtpChallenge.objects.create(
            phone_hash=phone_hash,
            client_hash=client_hash,
            purpose=purpose,
            code_hash=_code_hash(phone_hash, code),
            created_at=now,
            expires_at=now + valid_for(),
        )
    from campaigns.channels import send_otp  # the sending layer sits above members

    send_otp(phone=normalised, code=code, reference=f"otp-{challenge.pk}")
    return CodeSent(expires_at=challenge.expires_at, retry_after=int(RESEND_AFTER.total_seconds()))


def verify_code(phone: str, code: str) -> bool:
    """True when `code` is the phone's live code (then it is used up); False otherwise, counting a
    wrong try against the code (rule 2). Never raises for bad input."""
    try:
        normalised = phone_key(phone)
    except ValidationError:
        return False
    code = (code or "").strip()
    if len(code) != CODE_DIGITS or not code.isdigit():
        candidate = None
    else:
        candidate = code
    phone_hash = _phone_hash(normalised)
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(phone_hash=phone_hash, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at", "-id")
            .first()
        )
        if challenge is None or challenge.failed_attempts >= max_failed_attempts():
            return False
        expected = challenge.code_hash
        given = _code_hash(phone_hash, candidate or "x")
        if candidate is not None and hmac.compare_digest(expected, given):
            challenge.used_at = now
            challenge.save(update_fields=["used_at"])
            return True
        challenge.failed_attempts += 1  # under the row lock
        challenge.save(update_fields=["failed_attempts"])
        return False


def prune_challenges(*, now: datetime.datetime | None = None) -> int:
    """Delete codes that can no longer be used and no longer count towards a limit (older than a day)."""
    now = now or timezone.now()
    deleted, _rows = OtpChallenge.objects.filter(created_at__lt=now - datetime.timedelta(days=1)).delete()
    return deleted
