"""Signing a member in for the member centre's page and API tests (mcprofile)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from members.centre.session import start_session
from members.models import MemberSession


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
