"""Helpers for the member centre's tests: a client signed in as a member (pages and API), and for
the sign-in tests, the code read from the development SMS log."""

from __future__ import annotations

import re

from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import SmsLog
from members.centre.session import start_session
from members.models import MemberSession, TermsVersion
from members.normalize import normalise_phone

PHONE = "13800138000"


def member_client(member, *, language: str = "zh-hans") -> Client:
    """A test client signed in as `member` (the session cookie on path /m/), in `language`."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.cookies[settings.MEMBER_SESSION_COOKIE_NAME] = start_session(member)
    client.cookies[settings.MEMBER_SESSION_COOKIE_NAME]["path"] = "/m/"
    return client


def member_api(member) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Member {start_session(member, source=MemberSession.Source.API)}")
    return client


def last_code(phone: str = PHONE) -> str:
    """The code of the latest SMS sent to `phone` (SmsLog stores the text, as a developer sees it)."""
    wanted = normalise_phone(phone)
    for entry in SmsLog.objects.order_by("-id")[:50]:
        if normalise_phone(entry.phone) == wanted:
            match = re.search(r"\b(\d{6})\b", entry.text)
            assert match, "the SMS has no 6-digit code"
            return match.group(1)
    raise AssertionError("no SMS was sent to this phone")


def sms_count(phone: str = PHONE) -> int:
    wanted = normalise_phone(phone)
    return sum(1 for entry in SmsLog.objects.all() if normalise_phone(entry.phone) == wanted)


def published(kind: str = TermsVersion.Kind.TERMS, version: str = "1.0", title: str | None = None) -> TermsVersion:
    title = title or ("会员条款" if kind == TermsVersion.Kind.TERMS else "隐私政策")
    row = TermsVersion.objects.create(kind=kind, version=version, title=title, text=f"{title} {version} 正文")
    TermsVersion.objects.filter(pk=row.pk).update(published_at=timezone.now())
    row.refresh_from_db()
    return row
