"""Member sign-in sessions, kept apart from staff sessions.

A member session is a random token whose SHA-256 is a `MemberSession` row. The pages carry it in
their own cookie (`MEMBER_SESSION_COOKIE_NAME`, path `/m/`, HttpOnly, SameSite=Lax); the API
(`/api/v1/me/`) in the header `Authorization: Member <token>`. It ends on sign-out, after
`MEMBER_SESSION_IDLE_SECONDS` without a request, and after `MEMBER_SESSION_MAX_AGE_SECONDS` at
the latest. It never grants staff rights: it is not a Django user session, so the admin and the
staff API do not see it.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
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


# --- pages -----------------------------------------------------------------------------------


def current_member(request) -> Member | None:
    """The signed-in member of a member-centre request (read once per request)."""
    if not hasattr(request, "_centre_member"):
        request._centre_member = member_for_token(request.COOKIES.get(settings.MEMBER_SESSION_COOKIE_NAME, ""))
    return request._centre_member


def sign_in(request, response, member: Member, *, source: str = MemberSession.Source.WEB) -> None:
    """Start a session and set its cookie on `response` (ending the request's old session)."""
    end_session(request.COOKIES.get(settings.MEMBER_SESSION_COOKIE_NAME, ""))
    token = start_session(member, source=source)
    response.set_cookie(
        settings.MEMBER_SESSION_COOKIE_NAME,
        token,
        max_age=settings.MEMBER_SESSION_MAX_AGE_SECONDS,
        path="/m/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    request._centre_member = member


def sign_out(request, response) -> None:
    end_session(request.COOKIES.get(settings.MEMBER_SESSION_COOKIE_NAME, ""))
    response.delete_cookie(settings.MEMBER_SESSION_COOKIE_NAME, path="/m/", samesite="Lax")
    request._centre_member = None


def member_required(view=None, *, terms: bool = True):
    """A member-centre view: the signed-in member is `request.member`; others go to sign-in.

    A member who has not accepted the current terms or privacy notice
    (`members.services.pending_terms`, one query) goes to `centre:terms` first, then back.
    `@member_required(terms=False)` is for the few views that must work before that (the terms
    page itself, sign-out)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            member = current_member(request)
            if member is None:
                login = reverse("centre:login")
                return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
            request.member = member
            if terms:
                from members.services.terms import pending_terms

                if pending_terms(member):
                    page = reverse("centre:terms")
                    return redirect(f"{page}?{urlencode({'next': request.get_full_path()})}")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


# --- API -------------------------------------------------------------------------------------


class MemberPrincipal:
    """`request.user` of a member API request: authenticated, but with no staff permission."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, member: Member):
        self.member = member

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False

    def get_username(self) -> str:
        return ""

    def __str__(self) -> str:
        return f"member {self.member.member_no}"


class MemberAuthentication:
    """DRF authentication for `/api/v1/me/`: `Authorization: Member <token>` (the token from
    `POST /api/v1/me/session/`). `request.user` is a `MemberPrincipal`; `request.auth` the member."""

    keyword = "Member"

    def authenticate(self, request):
        from rest_framework import exceptions

        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid member token header.")
        member = member_for_token(parts[1])
        if member is None:
            raise exceptions.AuthenticationFailed("The member session has ended or is not valid; sign in again.")
        return MemberPrincipal(member), member

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsMember:
    """DRF permission: a signed-in member (and only a member: staff tokens are refused)."""

    message = "Sign in as a member first (POST /api/v1/me/session/)."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, MemberPrincipal):
            return False
        if not getattr(view, "terms_exempt", False):
            refuse_pending_terms(request.user.member)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        return self.has_permission(request, view)


def refuse_pending_terms(member: Member) -> None:
    """403 `terms_not_accepted`, with the versions to accept, while the member has not accepted
    the current terms or privacy notice (`POST /api/v1/me/terms/` accepts them; views that must
    work before that set `terms_exempt = True`)."""
    from django.utils.translation import gettext as _
    from rest_framework.exceptions import PermissionDenied

    from members.services.terms import pending_terms

    pending = pending_terms(member)
    if pending:
        refusal = PermissionDenied()
        # Set after construction: DRF would turn the ids into strings.
        refusal.detail = {
            "code": "terms_not_accepted",
            "detail": _("Accept the current terms and privacy notice first (POST /api/v1/me/terms/)."),
            "versions": [{"id": v.pk, "kind": v.kind, "version": v.version, "title": v.title} for v in pending],
        }
        raise refusal


def member_api_view_settings() -> dict:
    """The DRF attributes every `/api/v1/me/` view sets (authentication, permission)."""
    return {"authentication_classes": [MemberAuthentication], "permission_classes": [IsMember]}
