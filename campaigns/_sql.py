"""The campaigns app's SQL that is not a row lock (docs/contributing.md, "Raw SQL").

Names come from the models; values are always parameters. The classification engine's set-based
statements (benchmarks/bench_classify.py: a million members in one pass) and the partner offers
read after every posting.
"""

from __future__ import annotations

import datetime

import numpy as np
from django.db import connection, connections, router
from django.utils import timezone

from campaigns.models import Classification, MemberScore, Partner, PartnerOffer
from loyalty_crm.bulk import select_columns
from members.models import Member, Purchase


def active_partner_offers():
    """The active offers of active partners, without their related rows: read after every posting,
    so the common case (no offer applies) costs one small query."""
    quote = connection.ops.quote_name
    offer, partner = quote(PartnerOffer._meta.db_table), quote(Partner._meta.db_table)
    return PartnerOffer.objects.raw(
        f"SELECT {select_columns(PartnerOffer, alias='o')} FROM {offer} o "
        f"JOIN {partner} p ON p.id = o.partner_id WHERE o.is_active AND p.is_active"
    )


# --- classification (campaigns.services.classification.classify_members) ---------------------
# One code path for PostgreSQL and SQLite: the same statements with two small dialect differences.


class Dialect:
    """The two places where PostgreSQL and SQLite spell things differently."""

    def __init__(self, as_of_start: datetime.datetime):
        self.postgres = connection.vendor == "postgresql"
        tz = timezone.get_current_timezone()
        self.tz_name = str(tz)
        offset = as_of_start.utcoffset() or datetime.timedelta(0)
        self.offset_minutes = int(offset.total_seconds() // 60)

    def local_day(self, column: str) -> str:
        if self.postgres:
            return f"CAST(({column} AT TIME ZONE '{self.tz_name}') AS DATE)"
        # Stored as UTC text; the zone's offset on the as-of date (exact for zones without DST,
        # like Asia/Shanghai).
        return f"DATE({column}, '{self.offset_minutes:+d} minutes')"

    def days_between(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"({later} - {earlier})"
        return f"CAST(ROUND(JULIANDAY({later}) - JULIANDAY({earlier})) AS INTEGER)"

    def date_param(self, name: str) -> str:
        return f"CAST(%({name})s AS DATE)" if self.postgres else f"%({name})s"


TEMP_TABLES = ("cls_agg", "cls_pred", "cls_ranked")


def drop_temp_tables(cursor) -> None:
    for name in TEMP_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def raise_work_mem(cursor, dialect: Dialect) -> None:
    """Sorts and hash aggregates over a million rows stay in memory (the default 4MB spills them
    to disk); for this session only, until `reset_work_mem`."""
    if dialect.postgres:
        cursor.execute("SET work_mem = '256MB'")


def reset_work_mem(cursor, dialect: Dialect) -> None:
    if dialect.postgres:
        cursor.execute("RESET work_mem")


def aggregate_purchases(cursor, dialect: Dialect, params: dict) -> None:
    """Steps 1–2, into the temp table `cls_agg`: per member, from the purchase days (what was paid
    net per local day): window figures, recency and the BG/NBD inputs in days (x = purchase days
    after the first, t_x = first to last, T = first to D; repeat_net = what the days after the
    first paid). Walk-in sales (no member) count in the sales figures, never in a member's class."""
    purchase_table = connection.ops.quote_name(Purchase._meta.db_table)
    day = dialect.local_day("p.ordered_at")
    as_of_date = dialect.date_param("as_of")
    net = "(p.total - p.refunded_total)"
    in_window = "p.ordered_at >= %(window_start)s"
    cursor.execute(
        f"CREATE TEMP TABLE cls_agg AS SELECT d.member_id AS member_id, "
        f"ROUND(SUM(d.net_w), 2) AS spend_w, SUM(d.n_w) AS n_w, MAX(d.last_at) AS last_at, "
        f"COUNT(*) - 1 AS x, "
        f"{dialect.days_between('MAX(d.day)', 'MIN(d.day)')} AS t_x, "
        f"{dialect.days_between(as_of_date, 'MIN(d.day)')} AS t_cal, "
        f"{dialect.days_between(as_of_date, 'MAX(d.day)')} AS recency_days, "
        f"ROUND(SUM(CASE WHEN d.day_no > 1 THEN d.net ELSE 0 END), 2) AS repeat_net "
        f"FROM (SELECT p.member_id AS member_id, {day} AS day, "
        f"ROUND(SUM({net}), 2) AS net, "
        f"ROUND(SUM(CASE WHEN {in_window} THEN {net} ELSE 0 END), 2) AS net_w, "
        f"SUM(CASE WHEN {in_window} THEN 1 ELSE 0 END) AS n_w, "
        f"MAX(p.ordered_at) AS last_at, "
        f"ROW_NUMBER() OVER (PARTITION BY p.member_id ORDER BY {day}) AS day_no "
        f"FROM {purchase_table} p "
        f"WHERE p.member_id IS NOT NULL AND p.ordered_at < %(end)s AND p.total > p.refunded_total "
        f"GROUP BY p.member_id, {day}) d "
        f"GROUP BY d.member_id",
        params,
    )
    if dialect.postgres:
        cursor.execute("ANALYZE cls_agg")


def create_predictions_table(cursor) -> None:
    cursor.execute(
        "CREATE TEMP TABLE cls_pred (member_id BIGINT PRIMARY KEY, p_alive DOUBLE PRECISION, "
        "expected DOUBLE PRECISION, clv DOUBLE PRECISION)"
    )


PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
PG_COPY_TRAILER = b"\xff\xff"


def _binary_rows(fields: int) -> np.dtype:
    """One row of PostgreSQL's binary COPY format: a bigint (the member id), then float8 columns."""
    layout = [("count", ">i2"), ("len0", ">i4"), ("v0", ">i8")]
    for i in range(1, fields):
        layout += [(f"len{i}", ">i4"), (f"v{i}", ">f8")]
    return np.dtype(layout)


def read_inputs(cursor, dialect: Dialect) -> np.ndarray:
    """(member_id, x, t_x, T, repeat_net) of every buyer, by member id, as a float array."""
    select = "SELECT member_id, x, t_x, t_cal, repeat_net FROM cls_agg ORDER BY member_id"
    if not dialect.postgres:
        cursor.execute(select)
        return np.array(cursor.fetchall(), dtype=float).reshape(-1, 5)
    # A million rows: binary COPY parsed by numpy, instead of a million Python tuples.
    columns = "CAST(member_id AS BIGINT), " + ", ".join(
        f"CAST({c} AS DOUBLE PRECISION)" for c in ("x", "t_x", "t_cal", "repeat_net")
    )
    buffer = bytearray()
    with cursor.cursor.copy(
        f"COPY (SELECT {columns} FROM cls_agg ORDER BY member_id) TO STDOUT (FORMAT BINARY)"
    ) as copy:
        for block in copy:
            buffer += block
    rows = np.frombuffer(bytes(buffer[len(PG_COPY_HEADER) : -len(PG_COPY_TRAILER)]), dtype=_binary_rows(5))
    return np.column_stack([rows[f"v{i}"].astype(float) for i in range(5)])


def write_predictions(cursor, dialect: Dialect, columns: list[np.ndarray]) -> None:
    insert = "INSERT INTO cls_pred (member_id, p_alive, expected, clv) VALUES (%s, %s, %s, %s)"
    if not dialect.postgres:
        ids, *values = columns
        cursor.executemany(insert, zip(ids.astype(int).tolist(), *(v.tolist() for v in values), strict=True))
        return
    rows = np.zeros(len(columns[0]), dtype=_binary_rows(4))
    rows["count"] = 4
    for i, column in enumerate(columns):
        rows[f"len{i}"] = 8
        rows[f"v{i}"] = column.astype(np.int64) if i == 0 else column
    with cursor.cursor.copy("COPY cls_pred (member_id, p_alive, expected, clv) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(PG_COPY_HEADER + rows.tobytes() + PG_COPY_TRAILER)
    cursor.execute("ANALYZE cls_pred")


def null_nan_predictions(cursor) -> None:
    """NaN (no figure: e.g. no repeat buyer to give a typical gap) is stored as NULL."""
    for column in ("p_alive", "expected", "clv"):
        cursor.execute(f"UPDATE cls_pred SET {column} = NULL WHERE {column} = 'NaN'")


def rank_members(cursor, dialect: Dialect, params: dict) -> None:
    """Step 4, into the temp table `cls_ranked`: classes and RFM quintiles with window functions
    over everyone who ever bought."""
    ranked_group = "CASE WHEN a.n_w > 0 AND a.recency_days <= %(lapsed)s THEN 1 ELSE 0 END"

    def quintile(order: str) -> str:
        return f"1 + 5 * (RANK() OVER (ORDER BY {order}) - 1) / COUNT(*) OVER ()"

    cursor.execute(
        f"CREATE TEMP TABLE cls_ranked AS SELECT a.member_id AS member_id, a.spend_w AS spend_w, "
        f"a.n_w AS n_w, a.last_at AS last_at, a.recency_days AS recency_days, "
        f"CASE WHEN a.recency_days > %(lapsed)s THEN '{Classification.LAPSED}' "
        f"WHEN a.n_w > 0 THEN CASE WHEN "
        f"(RANK() OVER (PARTITION BY {ranked_group} ORDER BY a.spend_w DESC) - 1) * 100 "
        f"< %(share)s * COUNT(*) OVER (PARTITION BY {ranked_group}) "
        f"THEN '{Classification.HIGH_VALUE}' ELSE '{Classification.POTENTIAL}' END "
        f"ELSE '{Classification.ORDINARY}' END AS classification, "
        f"{quintile('a.recency_days DESC')} AS r_score, "
        f"{quintile('a.n_w')} AS f_score, "
        f"{quintile('a.spend_w')} AS m_score, "
        f"pr.p_alive AS p_alive, pr.expected AS expected, pr.clv AS clv "
        f"FROM cls_agg a LEFT JOIN cls_pred pr ON pr.member_id = a.member_id",
        params,
    )
    if dialect.postgres:
        cursor.execute("CREATE INDEX ON cls_ranked (member_id)")
        cursor.execute("ANALYZE cls_ranked")


def member_id_range(cursor) -> tuple[int | None, int | None, int]:
    """(lowest id, highest id, number) of the members."""
    cursor.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {connection.ops.quote_name(Member._meta.db_table)}")
    return cursor.fetchone()


def upsert_scores_statement(dialect: Dialect) -> str:
    """Step 5: upsert every member's `MemberScore` row for the member ids in [lo, hi)
    (parameters: as_of, now, lo, hi and the run's)."""
    quote = connection.ops.quote_name
    member_table = quote(Member._meta.db_table)
    score_table = quote(MemberScore._meta.db_table)
    as_of_date = dialect.date_param("as_of")
    columns = (
        "member_id, as_of, classification, spend_12m, purchases_12m, last_purchase_at, recency_days, "
        "r_score, f_score, m_score, rfm_score, p_alive, churn_risk, expected_purchases, clv, computed_at"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
    return (
        f"INSERT INTO {score_table} ({columns}) "
        f"SELECT m.id, {as_of_date}, COALESCE(r.classification, '{Classification.NO_PURCHASES}'), "
        f"COALESCE(r.spend_w, 0), COALESCE(r.n_w, 0), r.last_at, r.recency_days, "
        f"r.r_score, r.f_score, r.m_score, r.r_score + r.f_score + r.m_score, "
        f"r.p_alive, 1 - r.p_alive, r.expected, ROUND(CAST(r.clv AS NUMERIC), 2), %(now)s "
        # The range on both sides lets each batch read only its slice of the scratch table.
        f"FROM {member_table} m LEFT JOIN cls_ranked r "
        f"ON r.member_id = m.id AND r.member_id >= %(lo)s AND r.member_id < %(hi)s "
        f"WHERE m.id >= %(lo)s AND m.id < %(hi)s "
        f"ON CONFLICT (member_id) DO UPDATE SET {updates}"
    )


# --- dispatch (campaigns.services.dispatch: a batch's sends recorded at once) -----------------


def _update_values(*, owner: str, rows: list[tuple], columns: str, types: tuple[str, ...], sets: str, params: list):
    """UPDATE the outbox rows of `rows` (each an id then its values) still this worker's send
    (leased to `owner`, `sending` or `in_doubt`): one UPDATE … FROM (VALUES …) … RETURNING id.
    Returns the ids changed."""
    from campaigns.models import OutboxMessage

    quote = connection.ops.quote_name
    table = quote(OutboxMessage._meta.db_table)
    row = "(" + ", ".join(f"%s::{kind}" for kind in types) + ")"
    values = ", ".join([row] * len(rows))
    params = [*params]
    for values_of_row in rows:
        params += list(values_of_row)
    params += [owner, OutboxMessage.Status.SENDING, OutboxMessage.Status.IN_DOUBT]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS o SET {sets} FROM (VALUES {values}) AS v({columns}) "
            "WHERE o.id = v.id AND o.lease_owner = %s AND o.status IN (%s, %s) RETURNING o.id",
            params,
        )
        return {found for (found,) in cursor.fetchall()}


def _update_each(*, owner: str, rows: list[tuple], changes) -> set[int]:
    """The same, one UPDATE per row, for a database without UPDATE … FROM (VALUES …) (SQLite)."""
    from campaigns.models import OutboxMessage

    changed = set()
    for row in rows:
        mine = OutboxMessage.objects.filter(
            pk=row[0], lease_owner=owner, status__in=[OutboxMessage.Status.SENDING, OutboxMessage.Status.IN_DOUBT]
        )
        if mine.update(**changes(*row[1:])):
            changed.add(row[0])
    return changed


def mark_sent(*, owner: str, sent: list[tuple[int, str]], now: datetime.datetime) -> set[int]:
    """sending (or in_doubt) → sent, with each message's provider id, for the (id, provider ref)
    pairs still leased to `owner`. Returns the ids changed."""
    from campaigns.models import OutboxMessage

    sent = [(message_id, provider_ref[:100]) for message_id, provider_ref in sent]
    if not sent:
        return set()
    if connection.vendor != "postgresql":
        return _update_each(
            owner=owner, rows=sent,
            changes=lambda ref: {"status": OutboxMessage.Status.SENT, "sent_at": now, "provider_ref": ref,
                                 "error": "", "error_code": "", "lease_owner": "", "lease_expires_at": None,
                                 "updated_at": now},
        )  # fmt: skip
    return _update_values(
        owner=owner, rows=sent, columns="id, ref", types=("bigint", "varchar"),
        sets="status = %s, sent_at = %s, provider_ref = v.ref, error = '', error_code = '', lease_owner = '', "
        "lease_expires_at = NULL, updated_at = %s",
        params=[OutboxMessage.Status.SENT, now, now],
    )  # fmt: skip


def mark_failed(*, owner: str, failed: list[tuple[int, str, str]], now: datetime.datetime) -> set[int]:
    """sending (or in_doubt) → failed with each one's reason and error code, for the (id, reason,
    code) rows still leased to `owner`. Returns the ids changed."""
    from campaigns.models import OutboxMessage

    failed = [(message_id, error[:300], code[:64]) for message_id, error, code in failed]
    if not failed:
        return set()
    if connection.vendor != "postgresql":
        return _update_each(
            owner=owner, rows=failed,
            changes=lambda error, code: {"status": OutboxMessage.Status.FAILED, "error": error, "error_code": code,
                                         "lease_owner": "", "lease_expires_at": None, "updated_at": now},
        )  # fmt: skip
    return _update_values(
        owner=owner, rows=failed, columns="id, error, code", types=("bigint", "varchar", "varchar"),
        sets="status = %s, error = v.error, error_code = v.code, lease_owner = '', lease_expires_at = NULL, "
        "updated_at = %s",
        params=[OutboxMessage.Status.FAILED, now],
    )  # fmt: skip


def mark_in_doubt(*, owner: str, doubtful: list[tuple[int, str]], now: datetime.datetime) -> set[int]:
    """sending → in_doubt (the provider's answer was lost: never sent again) with each one's error
    code, for the (id, code) pairs still leased to `owner`. Returns the ids changed."""
    from campaigns.models import OutboxMessage

    doubtful = [(message_id, code[:64]) for message_id, code in doubtful]
    if not doubtful:
        return set()
    if connection.vendor != "postgresql":
        return _update_each(
            owner=owner, rows=doubtful,
            changes=lambda code: {"status": OutboxMessage.Status.IN_DOUBT, "error_code": code, "lease_owner": "",
                                  "lease_expires_at": None, "updated_at": now},
        )  # fmt: skip
    return _update_values(
        owner=owner, rows=doubtful, columns="id, code", types=("bigint", "varchar"),
        sets="status = %s, error_code = v.code, lease_owner = '', lease_expires_at = NULL, updated_at = %s",
        params=[OutboxMessage.Status.IN_DOUBT, now],
    )  # fmt: skip


# --- the repurchase rate of members (campaigns.reports) ----------------------------------------


def repurchase_counts(bounds: list[datetime.datetime]) -> dict[int, tuple[int, int]]:
    """{month index: (buyers, repeat buyers)} for the months [bounds[i], bounds[i + 1]): members who
    bought in the month, and those of them who had bought before it. One statement, the same on
    PostgreSQL and SQLite (the month boundaries are parameters, in the caller's time zone).

    Set-based, for a million members (benchmarks/bench_home.py): one pass over the members'
    purchases up to the range's end, grouped by member — whether they bought before the range, the
    first month of the range they bought in, and a flag per month. A member is a repeat buyer in a
    month they bought in when they bought before the range or in an earlier month of it. Neither a
    probe per purchase nor a sort of the purchases."""
    db = connections[router.db_for_read(Purchase)]  # the replica inside `replica_reads()`
    table = db.ops.quote_name(Purchase._meta.db_table)
    params = {f"e{i}": db.ops.adapt_datetimefield_value(edge) for i, edge in enumerate(bounds)}
    n = len(bounds) - 1
    whens = " ".join(f"WHEN p.ordered_at < %(e{i + 1})s THEN {i}" for i in range(n - 1))
    first = f"CASE {whens} ELSE {n - 1} END" if n > 1 else "0"
    flags = ", ".join(
        f"MAX(CASE WHEN p.ordered_at >= %(e{i})s AND p.ordered_at < %(e{i + 1})s THEN 1 ELSE 0 END) AS b{i}"
        for i in range(n)
    )
    sums = ", ".join(
        f"SUM(m.b{i}), SUM(CASE WHEN m.b{i} = 1 AND (m.before = 1 OR m.first_k < {i}) THEN 1 ELSE 0 END)"
        for i in range(n)
    )
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {sums} FROM (SELECT p.member_id AS member_id, "
            "MAX(CASE WHEN p.ordered_at < %(e0)s THEN 1 ELSE 0 END) AS before, "
            f"MIN(CASE WHEN p.ordered_at >= %(e0)s THEN {first} END) AS first_k, {flags} "
            f"FROM {table} p WHERE p.member_id IS NOT NULL AND p.ordered_at < %(e{n})s GROUP BY p.member_id) m",
            params,
        )
        row = cursor.fetchone()
    return {i: (int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(n)}
