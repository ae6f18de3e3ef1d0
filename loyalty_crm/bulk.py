"""Inserting many new rows fast, for the apps' batch services (no domain rules here).

`insert_rows(model, fields, rows)` writes plain tuples (no model instance per row) and returns
their new primary keys in order: on PostgreSQL with COPY (ids drawn from the table's sequence
first), about twice as fast as a multi-row INSERT; on SQLite with one `executemany` of the same
INSERT (ids taken after the table's highest id and its AUTOINCREMENT counter; a concurrent
writer in between makes the insert fail on the primary key, never write wrong rows — SQLite is
for development and demos). Values are what the model's fields hold in Python; dates,
aware datetimes and decimals are adapted for the database here.

`AnyOf(F("field"), values)` is `field__in=values` for long lists of values: on PostgreSQL
`field = ANY(%s)` with the list as ONE array parameter (ten thousand references are looked up in
a tenth of the time Django's IN (%s, %s, …) takes to build and send), elsewhere a plain IN.

`gc_paused()` switches Python's cyclic garbage collector off for a bulk job: with hundreds of
thousands of rows alive, each of its full passes walks them all, which cost a bulk import about
a third of its CPU time. Reference counting still frees what the job drops; keep the job's
objects free of reference cycles.

`insert_new(model, objects)` does the same for unsaved model instances and gives each its
primary key, as `bulk_create` does. Values are prepared by each field as `save()` would
(`pre_save` for auto_now/auto_now_add, then `get_db_prep_save`), and foreign keys set through
related objects saved earlier are picked up. The caller validates; database constraints still
apply (a violation raises IntegrityError).

`select_columns(model)` is the column list of a raw `SELECT` that loads whole instances of
`model` (`Model.objects.raw(...)`): every concrete field's column, quoted, built from the model,
so a field added later is read too (never `SELECT *`, which also reads columns the model does not
know and loads them as attributes).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
from collections.abc import Callable, Sequence

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, models


@contextlib.contextmanager
def gc_paused():
    """Run the block with the cyclic garbage collector off (as it was again afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class AnyOf(models.Lookup):
    """`field__in=values` with one array parameter on PostgreSQL: `.filter(AnyOf(F("field"), values))`.
    Values are given as the database holds them (ids, strings)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


@functools.cache
def select_columns(model: type[models.Model], *, alias: str = "") -> str:
    """`"id", "member_id", …`: the quoted columns of `model`'s concrete fields, in field order
    (each prefixed with `alias.` when the query names the table by an alias)."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


# Fields whose Python value PostgreSQL's COPY takes as it is (get_db_prep_save returns it unchanged).
_PLAIN = (
    models.BigAutoField,
    models.AutoField,
    models.BigIntegerField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.CharField,
    models.SlugField,
    models.TextField,
    models.BooleanField,
    models.DecimalField,
    models.DateField,
    models.ForeignKey,
    models.OneToOneField,
)


def _preparer(field) -> Callable[[models.Model], object]:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        if type(field) is models.DateTimeField:
            return lambda obj: field.pre_save(obj, True)
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)
    if type(field) in _PLAIN:
        return operator.attrgetter(field.attname)
    if type(field) is models.DateTimeField:
        return operator.attrgetter(field.attname)  # aware datetimes go in as they are
    return lambda obj: field.get_db_prep_save(getattr(obj, field.attname), connection)


def _wrapped(value, wrap):
    return None if value is None else wrap(value)


def insert_preparers(fields) -> tuple[Callable[[models.Model], object], ...]:
    """Per field, what a one-row INSERT on PostgreSQL sends for a new instance, as `save()` prepares it,
    without Django's three calls per value where the answer is known (issue 20): integers (keys
    included) wrapped in the type Django's backend gives them (psycopg's `Int4`, `Int8`…: a plain
    int's type follows its size and would split a prepared statement in several), the COPY
    preparers' plain values for the other plain fields, and `get_db_prep_save` for the rest (a
    datetime not set by auto_now included: a naive one is made aware as `save()` makes it).
    tests/rewards/test_insert_preparers.py compares them with Django's on the posting's rows."""
    preparers = []
    for field in fields:
        target = field.target_field if isinstance(field, models.ForeignKey) else field
        if isinstance(target, models.IntegerField | models.AutoField | models.BigAutoField):
            wrap = type(field.get_db_prep_save(1, connection))
            preparers.append(lambda obj, name=field.attname, wrap=wrap: _wrapped(getattr(obj, name), wrap))
        elif type(field) is models.DateTimeField and not (field.auto_now or field.auto_now_add):
            preparers.append(lambda obj, field=field: field.get_db_prep_save(getattr(obj, field.attname), connection))
        else:
            preparers.append(_preparer(field))
    return tuple(preparers)


_sequences: dict[tuple[str, str], str] = {}  # (table, column) → the name of its sequence


def _new_ids(model: type[models.Model], count: int) -> list[int]:
    meta = model._meta
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            key = (meta.db_table, meta.pk.column)
            sequence = _sequences.get(key)
            if sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", list(key))
                sequence = _sequences[key] = cursor.fetchone()[0]
            # The sequence named once: looked up per row, it costs ten times the nextval itself.
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
            return [pk for (pk,) in cursor.fetchall()]
        if connection.vendor != "sqlite":
            raise RuntimeError("Batch inserts need PostgreSQL or SQLite.")
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({quote(meta.pk.column)}), 0) FROM {quote(meta.db_table)}")
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [meta.db_table])
        highest = max(highest, cursor.fetchone()[0])
    return list(range(highest + 1, highest + 1 + count))


def _sqlite_adapter(field) -> Callable[[object], object] | None:
    """How a value of `field` goes into SQLite (None: as it is; decimals use the backend's adapter)."""
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return lambda value: None if value is None else value.isoformat()
    return None


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> list[int]:
    """Insert `rows` (tuples of the values of `fields`, attnames such as "member_id", without the
    primary key) into `model`'s table; returns the new primary keys in the rows' order."""
    if not rows:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.pk.column] + [meta.get_field(name).column for name in fields]
    names = ", ".join(quote(column) for column in columns)
    ids = _new_ids(model, len(rows))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY bypasses Django's cursor wrapper; map its errors (IntegrityError) the same way.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN") as copy,
            ):
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row((pk, *row))
        else:
            marks = ", ".join(["%s"] * len(columns))
            adapters = [(i, a) for i, a in enumerate(_sqlite_adapter(meta.get_field(name)) for name in fields) if a]
            values = []
            for pk, row in zip(ids, rows, strict=True):
                row = [pk, *row]
                for i, adapt in adapters:
                    row[i + 1] = adapt(row[i + 1])
                values.append(row)
            cursor.executemany(
                f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})",
                values,
            )
    return ids


def insert_new(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Insert `objects` (new instances of `model`) and set their primary keys."""
    if not objects:
        return
    for obj in objects:
        # Foreign keys assigned as objects saved after the assignment (as bulk_create does).
        obj._prepare_related_fields_for_save(operation_name="insert_new")
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    preparers = [_preparer(field) for field in fields]
    ids = insert_rows(
        model, [field.attname for field in fields], [[prepare(o) for prepare in preparers] for o in objects]
    )
    mark_inserted(objects, ids)


def mark_inserted(objects: Sequence[models.Model], ids: Sequence[int]) -> None:
    """Give instances whose rows `insert_rows` wrote their primary keys; they count as saved."""
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_unless_taken(obj: models.Model) -> bool:
    """Insert one new instance unless a unique constraint already holds its values: one
    `INSERT … ON CONFLICT DO NOTHING RETURNING` statement (PostgreSQL, SQLite ≥ 3.35), so a taken
    value costs no savepoint and leaves the transaction usable. True (and `obj.pk` set) when it
    was inserted, False when a unique value was taken. Values are prepared as `save()` prepares
    them; no model signals are sent (as with bulk_create)."""
    meta = obj._meta
    obj._prepare_related_fields_for_save(operation_name="insert_unless_taken")
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks}) "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


# --- loading rows read in plain SQL as the ORM loads them -------------------------------------

_CONVERTERS: dict[tuple, list] = {}


def convert_row(row, fields) -> list:
    """A raw row's values as the ORM would load them into these fields (the backend's converters,
    then the field's, as the compiler orders them); the converter lists are built once."""
    conn = connections[DEFAULT_DB_ALIAS]
    # Fields live as long as the process: keyed by identity, not by Field.__hash__ (a Python call each).
    key = (conn.alias, *map(id, fields))
    converters = _CONVERTERS.get(key)
    if converters is None:
        converters = _CONVERTERS[key] = [
            (index, field.cached_col, found)
            for index, field in enumerate(fields)
            if (found := [*conn.ops.get_db_converters(field.cached_col), *field.cached_col.get_db_converters(conn)])
        ]
    values = list(row)
    for index, column, field_converters in converters:
        value = values[index]
        if value is None:
            continue
        for converter in field_converters:
            value = converter(value, column, conn)
        values[index] = value
    return values
