"""Member sign-in sessions (`MemberSession`): the member centre's pages and API sign members in
with these (`loyalty_crm.centre.session` holds the cookie, header and DRF parts). A session is a
random token whose SHA-256 is the row; it ends on sign-out, after `MEMBER_SESSION_IDLE_SECONDS`
without a request, and after `MEMBER_SESSION_MAX_AGE_SECONDS` at the latest."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.conf import settings
from django.utils import timezone

from members.models import Member, MemberSession

TOUCH_EVERY = datetime.timedelta(seconds=60)  # last_seen_at is written at most once a minute


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.MEMBER_SESSION_IDLE_SECONDS)


def start_session(member: Member, *, source: str = MemberSession.Source.WEB, now=None) -> str:
    """A new session for `member`; returns the token (shown once, stored only hashed)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    MemberSession.objects.create(
        key_hash=_hash(token),
        member=member,
        source=source,
        last_seen_at=now,
        expires_at=now + datetime.timedelta(seconds=settings.MEMBER_SESSION_MAX_AGE_SECONDS),
    )
    return token


def member_for_token(token: str, *, now=None) -> Member | None:
    """The member of a live session; None for an unknown, ended, idle or expired one, and for a
    member erased or closed since."""
    if not token or len(token) > 100:
        return None
    now = now or timezone.now()
    session = (
        MemberSession.objects.select_related("member")
        .filter(key_hash=_hash(token), ended_at__isnull=True, expires_at__gt=now, last_seen_at__gt=now - idle_timeout())
        .first()
    )
    if session is None or session.member.is_erased or session.member.status != Member.Status.ACTIVE:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        MemberSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    return session.member


def end_session(token: str, *, now=None) -> None:
    if token:
        MemberSession.objects.filter(key_hash=_hash(token), ended_at__isnull=True).update(
            ended_at=now or timezone.now()
        )


def end_all_sessions(member: Member, *, now=None) -> int:
    """Sign a member out everywhere (account closed, erased, phone changed)."""
    return MemberSession.objects.filter(member=member, ended_at__isnull=True).update(ended_at=now or timezone.now())
