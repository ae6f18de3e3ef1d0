"""Helpers for the member centre card, points, coupons, rewards and wallet tests (mcpages): a client
signed in as a member, page weight and external URLs."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from members.centre.session import start_session

STATIC = Path(settings.BASE_DIR) / "static"


def member_client(member, **headers) -> Client:
    """A browser signed in to the member centre as `member` (its session cookie set)."""
    client = Client(**headers)
    client.cookies[settings.MEMBER_SESSION_COOKIE_NAME] = start_session(member)
    return client


def member_api(member, **headers) -> APIClient:
    """An API client carrying `member`'s session token (`Authorization: Member <token>`)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Member {start_session(member)}", **headers)
    return client


def page_weight(html: str) -> int:
    """The bytes of a page plus the static CSS and JS it links (what a phone downloads before images)."""
    total = len(html.encode())
    for ref in re.findall(r'(?:href|src)="/static/([^"]+\.(?:css|js))"', html):
        total += (STATIC / ref).stat().st_size
    return total


def external_urls(html: str) -> list[str]:
    """Every absolute http(s) URL the page would fetch or link to (the SVG namespace aside)."""
    found = re.findall(r'(?:href|src|action)="(https?://[^"]+)"', html)
    return [url for url in found if "www.w3.org" not in url]
