"""The members app's row locks, in one place (docs/contributing.md, "Raw SQL")."""

from __future__ import annotations

from django.db import connection

from members.models import Member


def member_status_for_no_key_update(member_id: int) -> str | None:
    """The member's status, read under FOR NO KEY UPDATE of their row (None: no such member).

    It queues behind an erasure or another posting, but not behind rows being inserted that merely
    reference the member (their foreign-key check takes FOR KEY SHARE). Plain SQL: this runs for
    every posting, and the ORM's query building cost more than the query.
    """
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {connection.ops.quote_name(Member._meta.db_table)} WHERE id = %s{lock}",
            [member_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None
