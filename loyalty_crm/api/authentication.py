"""Token authentication for the API: DRF's `TokenAuthentication`, with the user's permissions
loaded in the same step.

DRF looks the token up with the ORM (`select_related("user")`), and every permission check then
costs `ModelBackend` two more queries (the user's own permissions, then its groups'). An
integrator's POS posts purchases all day, so this class reads the token with its user in one
query and the permissions — own and through groups — in a second, and hands them to
`ModelBackend` through the per-user cache it already keeps (`_perm_cache`). The answers are the
same: an unknown key or an inactive user is refused with DRF's messages, and permissions are read
fresh on every request (never cached across requests).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    user = get_user_model()
    return {
        "user": quote(user._meta.db_table),
        "token": quote(Token._meta.db_table),
        "permission": quote(Permission._meta.db_table),
        "content_type": quote(ContentType._meta.db_table),
        "user_permissions": quote(user.user_permissions.through._meta.db_table),
        "user_groups": quote(user.groups.through._meta.db_table),
        "group_permissions": quote(Group.permissions.through._meta.db_table),
    }


def load_permissions(user) -> set[str]:
    """The user's permissions as `ModelBackend` names them ("app_label.codename"), own and through
    groups, in one query."""
    t = _tables()
    sql = (
        f"SELECT ct.app_label, p.codename FROM {t['permission']} p "  # noqa: S608
        f"JOIN {t['content_type']} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT up.permission_id FROM {t['user_permissions']} up WHERE up.user_id = %s "
        f"UNION SELECT gp.permission_id FROM {t['group_permissions']} gp "
        f"JOIN {t['user_groups']} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's class; see the module docstring."""

    def authenticate_credentials(self, key):
        t = _tables()
        users = list(
            get_user_model().objects.raw(
                f"SELECT u.*, t.created AS token_created FROM {t['token']} t "  # noqa: S608
                f"JOIN {t['user']} u ON u.id = t.user_id WHERE t.key = %s",
                [key],
            )
        )
        if not users:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = users[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser and settings.AUTHENTICATION_BACKENDS == [MODEL_BACKEND]:
            # ModelBackend.get_all_permissions() answers from this attribute when it is set.
            user._perm_cache = load_permissions(user)
        token = Token(key=key, user=user, created=user.token_created)
        return user, token
