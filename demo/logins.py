"""The demo's staff accounts, one per role, with published passwords (development only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from demo.data import document


@dataclass(frozen=True)
class DemoLogin:
    role: str  # the group's name; "" for the superuser
    username: str
    password: str | None  # None: the account exists but its password is no longer the demo one
    exists: bool = True


def demo_users() -> list[tuple[str, str | None, str]]:
    """(username, group or None for the superuser, first name) from data/users.json."""
    return [(row["username"], row["group"], row["first_name"]) for row in document("users")]


def demo_password(username: str) -> str:
    """The published demo password of a demo account (never used in production: see seed_demo)."""
    return f"{username}-demo-520"


def ensure_demo_users() -> list[DemoLogin]:
    """Create the demo accounts that do not exist; existing accounts are left untouched."""
    User = get_user_model()
    logins = []
    for username, group, first_name in demo_users():
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=first_name, email=f"{username}@demo.invalid", is_staff=True)
            user.is_superuser = group is None
            user.set_password(demo_password(username))
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            logins.append(DemoLogin(group or "", username, demo_password(username)))
        else:
            logins.append(_login_of(user, group))
    return logins


def demo_logins() -> list[DemoLogin]:
    """The demo accounts as they are now (for `seed_demo --if-empty`); creates nothing."""
    User = get_user_model()
    names = [username for username, _group, _name in demo_users()]
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    logins = []
    for username, group, _name in demo_users():
        user = users.get(username)
        if user is None:
            logins.append(DemoLogin(group or "", username, None, exists=False))
        else:
            logins.append(_login_of(user, group))
    return logins


def _login_of(user, group: str | None) -> DemoLogin:
    password = demo_password(user.username)
    return DemoLogin(group or "", user.username, password if user.check_password(password) else None)
