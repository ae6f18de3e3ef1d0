"""The project layer's SQL, in one place (docs/contributing.md, "Raw SQL"): the API token lookup.

An integrator's till posts all day, so a token is read with its user and the user's permissions
(own and through groups) in one query on PostgreSQL (two elsewhere), instead of the ORM's three to four
(loyalty_crm/api/authentication.py says why and how the answers stay the same).
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connection, connections
from rest_framework.authtoken.models import Token

from loyalty_crm.bulk import convert_row, select_columns


@functools.cache
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
        f"SELECT ct.app_label, p.codename FROM {t['permission']} p "
        f"JOIN {t['content_type']} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT up.permission_id FROM {t['user_permissions']} up WHERE up.user_id = %s "
        f"UNION SELECT gp.permission_id FROM {t['group_permissions']} gp "
        f"JOIN {t['user_groups']} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


def users_with_token(key: str, *, with_permissions: bool = False) -> list:
    """The user whose API token is `key` ([] or [user]), with the token's creation time as
    `token_created`. `with_permissions` on PostgreSQL: the user's permissions too, in the same
    query, as `token_permissions` (a list of "app_label.codename", own and through groups, as
    `load_permissions` gives them) — one round trip for the whole authentication; elsewhere
    `token_permissions` is None and the caller loads them."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, fields, names = _token_sql(with_permissions, conn.vendor)
    with conn.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return []
    count = len(fields)
    user = get_user_model().from_db(conn.alias, names, convert_row(row[:count], fields))
    user.token_created, user.token_permissions = row[count], row[count + 1]
    return [user]


@functools.cache
def _token_sql(with_permissions: bool, vendor: str) -> tuple[str, tuple, list[str]]:
    """`users_with_token`'s statement, the user's fields and their names, built once per process."""
    t = _tables()
    permissions = "NULL"
    if with_permissions and vendor == "postgresql":
        permissions = (
            f"ARRAY(SELECT ct.app_label || '.' || p.codename FROM {t['permission']} p "
            f"JOIN {t['content_type']} ct ON ct.id = p.content_type_id "
            f"WHERE p.id IN (SELECT up.permission_id FROM {t['user_permissions']} up WHERE up.user_id = u.id "
            f"UNION SELECT gp.permission_id FROM {t['group_permissions']} gp "
            f"JOIN {t['user_groups']} ug ON ug.group_id = gp.group_id WHERE ug.user_id = u.id))"
        )
    fields = tuple(get_user_model()._meta.concrete_fields)
    sql = (
        f"SELECT {select_columns(get_user_model(), alias='u')}, t.created AS token_created, "
        f"{permissions} AS token_permissions FROM {t['token']} t "
        f"JOIN {t['user']} u ON u.id = t.user_id WHERE t.key = %s"
    )
    return sql, fields, [f.attname for f in fields]


def row_where(model, field_name: str, value) -> list:
    """[the row of `model` whose `field_name` equals `value`] or []: a unique lookup in plain SQL
    (`Model.objects.raw`), for lookups on every posting where building an ORM query cost more
    than running it."""
    quote = connection.ops.quote_name
    column = model._meta.get_field(field_name).column
    return list(
        model.objects.raw(
            f"SELECT {select_columns(model)} FROM {quote(model._meta.db_table)} WHERE {quote(column)} = %s LIMIT 1",
            [value],
        )
    )
