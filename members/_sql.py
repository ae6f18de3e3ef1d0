"""The members app's SQL, in one place (docs/contributing.md, "Raw SQL"): the bulk import's writes.

Each statement here is justified by the import benchmark (benchmarks/bench_import_members.py):
new members go in with COPY, changed ones through a COPYed scratch table and one UPDATE … FROM,
their history as INSERT … SELECT, and the lines already seen in a temporary table. Names come
from the models; values are always parameters.
"""

from __future__ import annotations

import datetime
import functools
import operator
import secrets
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from loyalty_crm.bulk import convert_row, insert_preparers
from members.models import Member, Product, ProductRecommendation, Purchase, PurchaseItem


def _one_of(column: str, values: list, *, reserved: int = 0) -> Iterator[tuple[str, list]]:
    """SQL conditions with their parameters that together say `column IN values`.

    On PostgreSQL one `= ANY(%s)` with an array parameter: psycopg takes milliseconds to parse
    a statement with thousands of placeholders. Elsewhere chunks within the parameter limit.
    """
    if connection.vendor == "postgresql":
        yield f"{column} = ANY(%s)", [list(values)]
        return
    for chunk in _chunks(values, _max_params() - reserved):
        yield f"{column} IN ({', '.join(['%s'] * len(chunk))})", chunk


def _max_params() -> int:
    return connection.features.max_query_params or 30_000


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def update_members(members: list[Member], field_names: list[str], *, execute: Callable[[str, list], None]) -> None:
    """Write `field_names` of `members`: the new values go to a scratch table, then one UPDATE … FROM.

    Django's bulk_update builds a CASE WHEN per field and row, which costs ~0.5 ms a row in
    Python: an import of 100,000 changed rows ran at 1,300 rows/s with it. On PostgreSQL the
    values are COPYed into a temporary table; elsewhere they are a VALUES list. Values go
    through each field's get_db_prep_save, so encryption and types are exactly as with save().
    The UPDATE itself goes through `execute` (see _Importer._execute_later).
    """
    fields = [Member._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table = quote(Member._meta.db_table)
    columns = ", ".join(quote(name) for name in ["id", *(field.column for field in fields)])
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in fields)
    rows = [
        [member.pk, *(field.get_db_prep_save(getattr(member, field.attname), connection) for field in fields)]
        for member in members
    ]
    if connection.vendor == "postgresql":
        scratch = f"members_import_update_{secrets.token_hex(6)}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
            )
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {scratch} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        execute(f"UPDATE {table} SET {assignments} FROM {scratch} AS v WHERE {table}.id = v.id", [])
        execute(f"DROP TABLE {scratch}", [])
        return
    row_marks = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    for chunk in _chunks(rows, _max_params() // (len(fields) + 1)):
        execute(
            f"WITH v ({columns}) AS (VALUES {', '.join([row_marks] * len(chunk))}) "
            f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id",
            [value for row in chunk for value in row],
        )


def insert_members(members: list[Member]) -> None:
    """Insert new members; on PostgreSQL with COPY, about twice as fast as bulk_create.

    Values are prepared by each field exactly as bulk_create does (pre_save, then
    get_db_prep_save: timestamps, encryption); ids are drawn from the table's sequence first.
    """
    if connection.vendor != "postgresql":
        Member.objects.bulk_create(members)
        if members and members[0].pk is None:  # the history and the links below need the ids
            raise RuntimeError("The import needs a database that returns ids from bulk inserts (SQLite ≥ 3.35).")
        return
    meta = Member._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    preparers = [_copy_preparer(field) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(members)],
        )
        for member, (pk,) in zip(members, cursor.fetchall(), strict=True):
            member.pk = pk
        columns = ", ".join(quote(field.column) for field in fields)
        # COPY bypasses Django's cursor wrapper; map its errors (IntegrityError) the same way.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for member in members:
                copy.write_row([prepare(member) for prepare in preparers])
    for member in members:
        member._state.adding = False
        member._state.db = connection.alias


# Fields whose Python value PostgreSQL takes as it is (what get_db_prep_save returns unchanged).
PLAIN_FIELDS = (
    models.BigAutoField,
    models.CharField,
    models.SlugField,
    models.TextField,
    models.PositiveSmallIntegerField,
    models.ForeignKey,
)


def _copy_preparer(field) -> Callable[[Member], object]:
    """How to turn a new member's attribute into the value COPY writes, as bulk_create would.

    Calling pre_save and get_db_prep_save for every field of every row was a third of an
    import's time; plain fields need neither, aware datetimes only pre_save (auto_now).
    """
    if type(field) in PLAIN_FIELDS:
        return operator.attrgetter(field.attname)
    if type(field) is models.DateTimeField:
        return lambda member: field.pre_save(member, True)
    return lambda member: field.get_db_prep_save(field.pre_save(member, True), connection)


HISTORY_COLUMNS = ("history_date", "history_type", "history_user_id", "history_change_reason")


def record_history(
    member_ids: list[int],
    *,
    history_type: str,
    actor,
    now: datetime.datetime,
    reason: str,
    execute: Callable[[str, list], None],
) -> None:
    """Copy the members' rows as they now are into their change history, in SQL.

    It stores what simple_history's bulk_history_create stores (every tracked field, when, who,
    why, "+" or "~"), but as one INSERT … SELECT per chunk instead of a Python object and an
    encryption per row and field: that took 40% of an import's time.
    """
    if not member_ids or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history = Member.history.model._meta
    quote = connection.ops.quote_name
    copied = [field.column for field in history.concrete_fields if not field.primary_key]
    copied = [column for column in copied if column not in HISTORY_COLUMNS]
    values = {
        "history_date": now,
        "history_type": history_type,
        "history_user_id": actor.pk if actor is not None else None,
        "history_change_reason": reason,
    }
    marks, params = [], []
    for name, value in values.items():
        field = history.get_field(name.removesuffix("_id"))
        marks.append(_typed_mark(field))
        params.append(field.get_db_prep_save(value, connection))
    columns = ", ".join(quote(column) for column in [*copied, *values])
    selected = ", ".join([*(quote(column) for column in copied), *marks])
    for condition, ids in _one_of("id", member_ids, reserved=len(params)):
        execute(
            f"INSERT INTO {quote(history.db_table)} ({columns}) SELECT {selected} "
            f"FROM {quote(Member._meta.db_table)} WHERE {condition}",
            [*params, *ids],
        )


def _typed_mark(field) -> str:
    """A parameter placeholder; PostgreSQL reads bare parameters in a SELECT list or VALUES as text."""
    return f"CAST(%s AS {field.cast_db_type(connection)})" if connection.vendor == "postgresql" else "%s"


# --- the import's table of lines already seen ------------------------------------------------


def create_seen_table(name: str) -> None:
    """The members a file has already written or matched, with the line that did (dropped at commit
    on PostgreSQL; `drop_seen_table` drops it elsewhere)."""
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {name} (member_id BIGINT PRIMARY KEY, line INTEGER NOT NULL)" + on_commit
        )


def drop_seen_table(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


def seen_lines(name: str, member_ids: list[int]) -> dict[int, int]:
    """member id → the line of the file that wrote it, for those of `member_ids` already seen."""
    if not member_ids:
        return {}
    found: dict[int, int] = {}
    with connection.cursor() as cursor:
        for condition, ids in _one_of("member_id", member_ids):
            cursor.execute(f"SELECT member_id, line FROM {name} WHERE {condition}", ids)
            found.update(cursor.fetchall())
    return found


def remember_seen(name: str, pairs: list[tuple[int, int]], *, execute: Callable[[str, list], None]) -> None:
    """Add (member id, line) pairs to the table of lines seen."""
    if connection.vendor == "postgresql":  # two array parameters are much faster than 2,000 placeholders
        sql = f"INSERT INTO {name} (member_id, line) SELECT * FROM unnest(%s::bigint[], %s::int[])"
        execute(sql, [[pk for pk, _line in pairs], [line for _pk, line in pairs]])
        return
    for chunk in _chunks(pairs, _max_params() // 2):
        marks = ", ".join(["(%s, %s)"] * len(chunk))
        params = [value for pair in chunk for value in pair]
        execute(f"INSERT INTO {name} (member_id, line) VALUES {marks}", params)


def analyse_members(seen_table: str, *, execute: Callable[[str, list], None]) -> None:
    """Refresh PostgreSQL's statistics of the members table and the table of lines seen."""
    execute(f"ANALYZE {connection.ops.quote_name(Member._meta.db_table)}, {seen_table}", None)


# --- product recommendations (item-to-item co-purchase) --------------------------------------


def _recommendation_query(*, holdout_last: bool) -> str:
    """The members' top products they have not bought, as a SELECT of (member_id, product_id,
    rank, score); its parameters are `_recommendation_params`.

    Set-based (benchmarks/bench_recommendations.py), in one statement:
    1. `bought`: the distinct (member, product) pairs bought in the window (erased members out);
    2. `similarity` of b to a: of the members who bought a, the share who also bought b;
    3. `scored`: a member's candidates, each scored by the sum of its similarity to what the member
       bought in the window;
    4. `pool`: the most popular active products of the window (members who bought each); every
       member who ever bought is offered them too, after the co-purchase candidates, so a member
       with few or no co-purchases (a lapsed one) still gets a full list;
    5. less what the member ever bought (an anti-join after the grouping, so it hashes once per
       candidate) and inactive products; ranked per member by ROW_NUMBER: co-purchase first by
       score, then by popularity.
    With `holdout_last`, each member's last purchase is left out of everything (the benchmark's
    hold-out). Works on PostgreSQL and SQLite (window functions, no math functions).
    """
    quote = connection.ops.quote_name
    purchase, item = quote(Purchase._meta.db_table), quote(PurchaseItem._meta.db_table)
    product, member = quote(Product._meta.db_table), quote(Member._meta.db_table)
    held_out = (
        f"""held_out AS (
            SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY ordered_at DESC, id DESC) AS n
                FROM {purchase} WHERE member_id IS NOT NULL
            ) last_first WHERE n = 1
        ),"""
        if holdout_last
        else f"held_out AS (SELECT id FROM {purchase} WHERE 1 = 0),"
    )
    return f"""
        WITH {held_out}
        people AS (SELECT id FROM {member} WHERE status <> %s),
        ever AS (
            SELECT DISTINCT p.member_id AS member_id, i.product_id AS product_id, p.ordered_at >= %s AS recent
            FROM {item} i JOIN {purchase} p ON p.id = i.purchase_id JOIN people ON people.id = p.member_id
            WHERE i.product_id IS NOT NULL AND p.ordered_at < %s AND p.id NOT IN (SELECT id FROM held_out)
        ),
        bought AS (SELECT DISTINCT member_id, product_id FROM ever WHERE recent),
        buyers AS (SELECT product_id, COUNT(*) AS n FROM bought GROUP BY product_id),
        together AS (
            SELECT a.product_id AS a, b.product_id AS b, COUNT(*) AS n
            FROM bought a JOIN bought b ON b.member_id = a.member_id AND b.product_id <> a.product_id
            GROUP BY a.product_id, b.product_id
        ),
        similarity AS (
            SELECT t.a AS a, t.b AS b, t.n * 1.0 / ba.n AS s
            FROM together t JOIN buyers ba ON ba.product_id = t.a
        ),
        scored AS (
            SELECT bought.member_id AS member_id, similarity.b AS product_id, SUM(similarity.s) AS score
            FROM bought JOIN similarity ON similarity.a = bought.product_id
            GROUP BY bought.member_id, similarity.b
        ),
        pool AS (
            SELECT product_id FROM (
                SELECT buyers.product_id AS product_id,
                       ROW_NUMBER() OVER (ORDER BY buyers.n DESC, buyers.product_id) AS r
                FROM buyers JOIN {product} pr ON pr.id = buyers.product_id AND pr.is_active
            ) popular WHERE r <= %s
        ),
        offered AS (
            SELECT member_id, product_id, score, 0 AS source FROM scored
            UNION ALL
            SELECT shoppers.member_id, pool.product_id, 0.0, 1
            FROM (SELECT DISTINCT member_id FROM ever) shoppers CROSS JOIN pool
        ),
        candidates AS (
            SELECT offered.member_id AS member_id, offered.product_id AS product_id,
                   MAX(offered.score) AS score, MIN(offered.source) AS source
            FROM offered JOIN {product} pr ON pr.id = offered.product_id AND pr.is_active
            LEFT JOIN ever ON ever.member_id = offered.member_id AND ever.product_id = offered.product_id
            WHERE ever.member_id IS NULL
            GROUP BY offered.member_id, offered.product_id
        ),
        ranked AS (
            SELECT c.member_id AS member_id, c.product_id AS product_id, c.score AS score,
                   ROW_NUMBER() OVER (
                       PARTITION BY c.member_id
                       ORDER BY c.source, c.score DESC, COALESCE(buyers.n, 0) DESC, c.product_id
                   ) AS rank
            FROM candidates c LEFT JOIN buyers ON buyers.product_id = c.product_id
        )
        SELECT member_id, product_id, rank, score FROM ranked WHERE rank <= %s
    """


def _recommendation_params(*, since, until, limit: int) -> list:
    # A pool of popular products a few times the list's length: enough to fill a list after
    # taking out what a member bought.
    return [Member.Status.ERASED.value, since, until, limit * 4, limit]


def replace_recommendations(*, since: datetime.datetime, until: datetime.datetime, limit: int, now) -> int:
    """Empty the recommendations table and fill it again in one INSERT … SELECT; the caller holds
    the transaction (readers see the old rows until it commits). Returns the rows written."""
    table = connection.ops.quote_name(ProductRecommendation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"INSERT INTO {table} (member_id, product_id, {connection.ops.quote_name('rank')}, score, computed_at) "
            f"SELECT member_id, product_id, rank, score, %s FROM ({_recommendation_query(holdout_last=False)}) r",
            [now, *_recommendation_params(since=since, until=until, limit=limit)],
        )
        return cursor.rowcount


def read_recommendations(
    *, since: datetime.datetime, until: datetime.datetime, limit: int, holdout_last: bool
) -> list[tuple[int, int, int, float]]:
    """The same ranking without writing it (the benchmark's hold-out measurement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _recommendation_query(holdout_last=holdout_last),
            _recommendation_params(since=since, until=until, limit=limit),
        )
        return cursor.fetchall()


def members_overdue_against_interval(*, factor, now: datetime.datetime):
    """The ids (as a RawSQL subquery) of members with two or more counted purchases (not fully
    refunded) whose time since the last one exceeds `factor` × their mean gap between purchases:
    (n − 1) × (now − last) > factor × (last − first). Seconds on PostgreSQL, days on SQLite."""
    from django.db.models.expressions import RawSQL

    from members.models import Purchase

    table = connection.ops.quote_name(Purchase._meta.db_table)
    if connection.vendor == "postgresql":
        since = "EXTRACT(EPOCH FROM (%s::timestamptz - MAX(ordered_at)))"
        span = "EXTRACT(EPOCH FROM (MAX(ordered_at) - MIN(ordered_at)))"
    else:
        since = "(julianday(%s) - julianday(MAX(ordered_at)))"
        span = "(julianday(MAX(ordered_at)) - julianday(MIN(ordered_at)))"
    sql = (
        f"SELECT member_id FROM {table} WHERE member_id IS NOT NULL AND total > refunded_total "
        f"GROUP BY member_id HAVING COUNT(*) >= 2 AND (COUNT(*) - 1) * {since} > %s * {span}"
    )
    when = now if connection.vendor == "postgresql" else now.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return RawSQL(sql, [when, float(factor)])  # noqa: S611 (names from the model, values as parameters)


def rebuild_purchase_summary() -> int:
    """Rewrite `PurchaseSummary` from the counted lines in one INSERT … SELECT (PostgreSQL keeps it
    exact with triggers; this is for a database restored without them). The caller holds the
    transaction; returns the rows written."""
    from members.models import PurchaseSummary

    quote = connection.ops.quote_name
    summary = quote(PurchaseSummary._meta.db_table)
    purchases = quote(Purchase._meta.db_table)
    lines = quote(PurchaseItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {summary}")
        cursor.execute(
            f"INSERT INTO {summary} (member_id, category_id, product_id, last_ordered_at) "
            f"SELECT p.member_id, l.category_id, l.product_id, MAX(p.ordered_at) "
            f"FROM {purchases} p JOIN {lines} l ON l.purchase_id = p.id "
            "WHERE p.member_id IS NOT NULL AND p.total > p.refunded_total AND l.quantity > l.returned_quantity "
            "AND (l.category_id IS NOT NULL OR l.product_id IS NOT NULL) "
            "GROUP BY p.member_id, l.category_id, l.product_id"
        )
        return cursor.rowcount


# --- one posting's reads and writes in fewer statements (bench_posting.py, issue 20) -----------


@functools.cache
def _status_and_products_shape(vendor: str):
    """The statement and field lists of `member_status_and_products`, built once per process."""
    from members.models import Category

    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    product_fields = tuple(Product._meta.concrete_fields)
    category_fields = tuple(Category._meta.concrete_fields)
    columns = ", ".join(
        [f"p.{quote(f.column)}" for f in product_fields] + [f"c.{quote(f.column)}" for f in category_fields]
    )
    sql = (
        f"WITH m AS (SELECT status FROM {quote(Member._meta.db_table)} WHERE id = %s FOR NO KEY UPDATE) "
        f"SELECT (SELECT status FROM m), {columns} FROM (SELECT 1) AS one "
        f"LEFT JOIN ({quote(Product._meta.db_table)} p LEFT JOIN {quote(Category._meta.db_table)} c "
        f"ON c.id = p.{quote('category_id')}) ON p.{quote('sku')} = ANY(%s)"
    )
    names = ([f.attname for f in product_fields], [f.attname for f in category_fields])
    return sql, (*product_fields, *category_fields), len(product_fields), names, Category


def member_status_and_products(member_id: int | None, skus: list[str]) -> tuple[str | None, list[Product]]:
    """PostgreSQL only: (the member's status read under FOR NO KEY UPDATE of their row — None when
    no member is given or found —, the products with these SKUs, their categories loaded) in one
    statement: `refuse_erased`'s lock and `_products_and_categories`' read, one round trip and one
    plan fewer on every posting. Products and categories are model instances, as the ORM loads them."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, fields, split, (product_names, category_names), category_model = _status_and_products_shape(conn.vendor)
    with conn.cursor() as cursor:
        cursor.execute(sql, [member_id, list(skus)])
        rows = cursor.fetchall()
    status = rows[0][0] if rows else None
    products = []
    for row in rows:
        if row[1] is None:
            continue
        values = convert_row(row[1:], fields)
        product = Product.from_db(conn.alias, product_names, values[:split])
        category = None
        if values[split] is not None:
            category = category_model.from_db(conn.alias, category_names, values[split:])
        Product.category.field.set_cached_value(product, category)
        products.append(product)
    return status, products


@functools.cache
def _purchase_with_lines_shape(vendor: str):
    """The statement and field lists of `insert_purchase_with_lines`, built once per process."""
    conn = connections[DEFAULT_DB_ALIAS]
    quote = conn.ops.quote_name
    meta = Purchase._meta
    purchase_fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    line_meta = PurchaseItem._meta
    parent = line_meta.get_field("purchase")
    line_fields = tuple(f for f in line_meta.concrete_fields if not f.primary_key and f is not parent)
    arrays = ", ".join(f"%s::{f.db_type(conn)}[]" for f in line_fields)
    names = ", ".join(quote(f.column) for f in line_fields)
    values = ", ".join(f"v.{quote(f.column)}" for f in line_fields)
    sql = (
        f"WITH p AS (INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in purchase_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(purchase_fields))}) ON CONFLICT DO NOTHING RETURNING {quote('id')}), "
        f"l AS (INSERT INTO {quote(line_meta.db_table)} ({quote(parent.column)}, {names}) "
        f"SELECT p.{quote('id')}, {values} FROM p, unnest({arrays}) WITH ORDINALITY "
        f"AS v ({names}, ordinal) ORDER BY v.ordinal RETURNING {quote('id')}) "
        f"SELECT (SELECT {quote('id')} FROM p), ARRAY(SELECT {quote('id')} FROM l ORDER BY {quote('id')})"
    )
    return sql, insert_preparers(purchase_fields), insert_preparers(line_fields)


def insert_purchase_with_lines(purchase: Purchase, lines: list[PurchaseItem]) -> bool:
    """PostgreSQL only: `bulk.insert_unless_taken(purchase)` and the lines' `bulk_create` in one
    statement (the lines inserted in a data-modifying WITH from the purchase's RETURNING, their
    values as one array per column). True, with `purchase.pk` and each line's pk set, when it was
    inserted; False, nothing written, when its external reference is taken. Values are prepared
    as `save()` prepares them; no model signals are sent (as with bulk_create). The statement's
    text is built once per process (`_purchase_with_lines_shape`)."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, purchase_preparers, line_preparers = _purchase_with_lines_shape(conn.vendor)
    purchase._prepare_related_fields_for_save(operation_name="insert_purchase_with_lines")
    purchase_values = [prepare(purchase) for prepare in purchase_preparers]
    columns = [[prepare(line) for line in lines] for prepare in line_preparers]
    with conn.cursor() as cursor:
        cursor.execute(sql, [*purchase_values, *columns])
        purchase_id, line_ids = cursor.fetchone()
    if purchase_id is None:
        return False
    for obj, pk in [(purchase, purchase_id), *zip(lines, line_ids, strict=True)]:
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = conn.alias
    for line in lines:
        line.purchase = purchase
    return True
