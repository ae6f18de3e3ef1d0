"""Importing members from CSV: the one service behind `manage.py import_members` and the admin import.

Rules this module enforces:
- the header must hold every required column and nothing unknown; the file is UTF-8 (a BOM is fine);
- a row is matched to a member by `external_id`: a new id creates a member, a known one updates it,
  so running the same file twice changes nothing the second time (idempotent, never duplicates);
- values are normalised as everywhere else (`members.services.apply_contact_data`): phone numbers
  to E.164, encrypted, hashed for lookup; a phone belongs to one member; birthdays are not in the
  future;
- empty optional values leave what is stored as it is (an import never erases data); tags are
  added, never removed; consents change only when they really change, each change with a
  `ConsentEvent` whose source is "import";
- all or nothing: the whole file is one transaction, and the first bad row stops it with an
  error naming its line (the header is line 1, as an editor shows it) and column; with
  `skip_errors` the good rows are imported and every bad row is reported.

The file is streamed in batches of `batch_size` rows, so memory stays flat however long it is;
each batch costs a fixed number of queries whatever its size. The members the file has already
written are remembered with their line in a temporary table, not in Python, for the same reason.

Speed (benchmarks/bench_import_members.py; target 5,000 rows/s on PostgreSQL): new members go in
with COPY, changed ones through a COPYed scratch table and one UPDATE … FROM, their history rows
as INSERT … SELECT from the members table (the same rows simple_history's bulk helpers write,
without a Python object per row), sent down a pipeline so PostgreSQL writes them while the next
batch is being cleaned; statistics are refreshed as the table grows. SQLite (development) takes
the plain bulk_create path.
"""

from __future__ import annotations

import datetime
import re
import secrets
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, reset_queries, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from loyalty_crm import inputs
from loyalty_crm.csvimport import (  # noqa: F401 (ImportFailed, RowError, write_error_report: this import's API too)
    MAX_SHOWN_VALUE,
    ImportFailed,
    RowError,
    read_records,
    write_error_report,
)
from members import _sql
from members.models import ConsentSource, ConsentTopic, Member, Store, Tag
from members.services import apply_contact_data, new_member_numbers, set_members_consents

REQUIRED_COLUMNS = ("external_id", "name", "phone", "email", "birthday", "registered_at")
CONSENT_COLUMNS = {
    "consent_marketing_email": ConsentTopic.MARKETING_EMAIL,
    "consent_marketing_sms": ConsentTopic.MARKETING_SMS,
    "consent_marketing_wechat": ConsentTopic.MARKETING_WECHAT,
    "consent_data_processing": ConsentTopic.DATA_PROCESSING,
}
OPTIONAL_COLUMNS = ("gender", "store", "tags", *CONSENT_COLUMNS)
ALL_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

GENDERS = {
    "female": Member.Gender.FEMALE,
    "女": Member.Gender.FEMALE,
    "male": Member.Gender.MALE,
    "男": Member.Gender.MALE,
    "other": Member.Gender.OTHER,
    "unknown": Member.Gender.UNKNOWN,
}
YES = {"1", "true", "yes", "y", "是"}
NO = {"0", "false", "no", "n", "否"}
TAG_SEPARATORS = re.compile(r"[;|]")
# Registration times a few minutes ahead of our clock come from systems with a skewed clock.
CLOCK_SKEW = datetime.timedelta(minutes=10)
CHANGE_REASON = "import"
NAME_MAX = Member._meta.get_field("name").max_length
EXTERNAL_ID_MAX = Member._meta.get_field("external_id").max_length
TAG_MAX = Tag._meta.get_field("name").max_length
BIRTHDAY_FIELD = Member._meta.get_field("birthday")


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do).

    `updated` counts known members that really changed (fields, tags or consents); `unchanged`
    those the file matched without changing anything; `skipped` the bad rows left out.
    """

    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    preview: list[dict] = field(default_factory=list)
    unchanged: int = 0


def import_members(
    *,
    stream: typing.TextIO,
    actor=None,
    skip_errors: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 1000,
    preview_rows: int = 20,
) -> ImportResult:
    """Create or update members from the CSV text in `stream` (see the module docstring).

    Raises ImportFailed for a bad header, an unreadable file, or — unless `skip_errors` or
    `dry_run` — the first bad row; nothing of the file is stored then. A dry run validates and
    writes everything inside a transaction that is rolled back, and returns every bad row, the
    counts and the first `preview_rows` rows as they would be stored.
    `progress` is called after each batch with the number of data rows read so far.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    importer = _Importer(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        skip_errors=skip_errors or dry_run,
        dry_run=dry_run,
        preview_rows=preview_rows,
    )
    with transaction.atomic():
        importer.start()
        try:
            for batch, rows_read in _batches(stream, batch_size):
                importer.process(batch)
                if progress is not None:
                    progress(rows_read)
                if settings.DEBUG:
                    # In DEBUG Django keeps every SQL statement of the connection; a bulk job must not.
                    reset_queries()
            importer.finish()
        except BaseException as exc:
            importer.abandon(exc)
            raise
        if dry_run:
            transaction.set_rollback(True)
    return importer.result


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    member: Member | None = None  # an unsaved member holding the row's cleaned values
    fields: tuple[str, ...] = ()  # the member attributes this row sets
    store_code: str = ""
    tags: list[str] = field(default_factory=list)
    consents: dict[str, bool] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    target: Member | None = None  # the member the row writes to (existing or new)
    action: str = ""

    def error(self, column: str, message: str) -> None:
        value = self.cells.get(column, "")
        self.errors.append(RowError(self.line, column, value[:MAX_SHOWN_VALUE], message))


def _batches(stream: typing.TextIO, batch_size: int) -> Iterator[tuple[list[_Row], int]]:
    """The data rows in lists of at most `batch_size`, with the count of data rows read so far."""
    batch: list[_Row] = []
    rows_read = 0
    for record in read_records(stream, required=REQUIRED_COLUMNS, allowed=ALL_COLUMNS):
        rows_read += 1
        batch.append(_Row(record.line, record.cells, errors=record.errors))
        if len(batch) >= batch_size:
            yield batch, rows_read
            batch = []
    if batch:
        yield batch, rows_read


# --- cleaning one row (no database) --------------------------------------------------------


def _parse_registered_at(text: str) -> datetime.datetime | None:
    try:
        value = parse_datetime(text)
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


class _NewMember:
    """Builds unsaved members through Model.__init__'s positional fast path (3 µs, not 12 µs).

    The defaults are taken once per import; every attribute the import sets is passed.
    """

    def __init__(self):
        fields = Member._meta.concrete_fields
        self.defaults = [field.get_default() for field in fields]
        self.position = {field.attname: index for index, field in enumerate(fields)}

    def __call__(self, **values) -> Member:
        args = self.defaults.copy()
        for name, value in values.items():
            args[self.position[name]] = value
        return Member(*args)


def _clean(row: _Row, now: datetime.datetime, new_member: Callable[..., Member] = Member) -> None:
    """Check and normalise one row's values into an unsaved Member; problems go to row.errors."""
    cells = row.cells
    if row.errors:
        return
    external_id = cells["external_id"]
    if not external_id:
        row.error("external_id", _("Enter the member's external ID; the import matches members by it."))
    elif len(external_id) > EXTERNAL_ID_MAX:
        row.error("external_id", _("At most %(max)d characters.") % {"max": EXTERNAL_ID_MAX})
    name = cells["name"]
    if not name:
        row.error("name", _("Enter the member's name."))
    elif len(name) > NAME_MAX:
        row.error("name", _("At most %(max)d characters.") % {"max": NAME_MAX})

    registered_at = None
    if not cells["registered_at"]:
        row.error("registered_at", _("Enter the registration date."))
    else:
        registered_at = _parse_registered_at(cells["registered_at"])
        if registered_at is None:
            row.error(
                "registered_at",
                _("“%(value)s” is not a valid date or time (use YYYY-MM-DD or YYYY-MM-DD HH:MM).")
                % {"value": cells["registered_at"]},
            )
        elif problem := inputs.datetime_problem(registered_at):
            row.error("registered_at", problem)
        elif registered_at > now + CLOCK_SKEW:
            row.error("registered_at", _("The registration date is in the future."))

    birthday = ...
    if cells["birthday"]:
        try:
            birthday = BIRTHDAY_FIELD.to_python(cells["birthday"])
        except ValidationError as exc:
            row.error("birthday", exc.messages[0])
        else:
            if problem := inputs.date_problem(birthday):
                row.error("birthday", problem)

    fields = ["name", "registered_at", "phone", "phone_hash", "phone_last4"]
    gender = cells.get("gender", "")
    if gender:
        if gender.lower() in GENDERS:
            gender = GENDERS[gender.lower()]
            fields.append("gender")
        else:
            row.error(
                "gender", _("“%(value)s” is not a gender; use female, male, other or unknown.") % {"value": gender}
            )
    row.store_code = cells.get("store", "")
    if row.store_code:
        fields.append("home_store_id")
    for tag in TAG_SEPARATORS.split(cells.get("tags", "")):
        tag = tag.strip()
        if len(tag) > TAG_MAX:
            row.error("tags", _("The tag “%(tag)s” is longer than %(max)d characters.") % {"tag": tag, "max": TAG_MAX})
        elif tag and tag not in row.tags:
            row.tags.append(tag)
    for column, topic in CONSENT_COLUMNS.items():
        answer = cells.get(column, "").lower()
        if answer in YES:
            row.consents[topic] = True
        elif answer in NO:
            row.consents[topic] = False
        elif answer:
            row.error(column, _("“%(value)s” is not a yes or no; use 1 or 0.") % {"value": cells[column]})

    member = new_member(
        external_id=external_id,
        name=name,
        registered_at=registered_at,
        gender=gender or Member.Gender.UNKNOWN,
        source_channel=Member.SourceChannel.IMPORT,
    )
    if not cells["phone"]:
        row.error("phone", _("Enter a phone number."))
    email = cells["email"] or ...
    if email is not ...:
        fields += ["email", "email_hash"]
    if birthday is not ...:
        fields += ["birthday", "birth_month", "birth_day"]
    try:
        apply_contact_data(member, phone=cells["phone"] or ..., email=email, birthday=birthday)
    except ValidationError as exc:
        for column, messages in exc.message_dict.items():
            if not any(error.column == column for error in row.errors):
                row.error(column, messages[0])
    row.member = member
    row.fields = tuple(fields)


# --- the import ----------------------------------------------------------------------------


class _Importer:
    """One run of import_members: checks each batch against the database, writes it, keeps the counts."""

    def __init__(self, *, actor, skip_errors: bool, dry_run: bool, preview_rows: int):
        self.actor = actor
        self.skip_errors = skip_errors
        self.result = ImportResult(dry_run=dry_run)
        self.preview_rows = preview_rows
        self.stores: dict[str, int | None] = {}
        self.seen_table = f"members_import_seen_{secrets.token_hex(6)}"
        self.initial_rows = self.analysed_rows = 0
        self.pipeline = None
        self.new_member = _NewMember()
        self.batch_line = 1  # the first line of the batch being written, for errors found later

    # The members this file has already written or matched, with the line that did, so that a
    # repeated external id or phone names the line it repeats. A temporary table (not a Python
    # dict) keeps memory flat; it lives inside the import's transaction only.
    def start(self) -> None:
        if connection.vendor == "postgresql":
            self.initial_rows = self.analysed_rows = Member.objects.count()
        _sql.create_seen_table(self.seen_table)

    def finish(self) -> None:
        self._sync()
        _sql.drop_seen_table(self.seen_table)

    def _lines_of(self, member_ids: list[int]) -> dict[int, int]:
        """The lines of this file that already wrote (or matched unchanged) these members."""
        return _sql.seen_lines(self.seen_table, member_ids)

    def _remember(self, rows: list[_Row]) -> None:
        _sql.remember_seen(self.seen_table, [(row.target.pk, row.line) for row in rows], execute=self._execute_later)

    def _analyse(self) -> None:
        """Refresh PostgreSQL's statistics each time the import has doubled the member table.

        The planner cannot see rows this transaction has written: with the statistics of an
        emptier table it scans the whole table for each batch's lookups (by external id, phone
        hash, member number), and an import into an empty database slows down quadratically.
        ANALYZE inside the transaction sees them; about log2(rows) runs cost well under a second.
        """
        if connection.vendor != "postgresql":
            return
        rows = self.initial_rows + self.result.created
        if rows < 2 * max(self.analysed_rows, 500):
            return
        _sql.analyse_members(self.seen_table, execute=self._execute_later)
        self.analysed_rows = rows

    def _execute_later(self, sql: str, params: list | None = None) -> None:
        """Run a statement whose result nothing reads (history, bookkeeping, ANALYZE).

        On PostgreSQL it goes down a pipeline and the server executes it while this process
        cleans the next batch; `_sync` (before the next batch's queries) collects the outcome.
        Elsewhere it simply runs now.
        """
        if connection.vendor == "postgresql" and self.pipeline is None:
            self.pipeline = connection.connection.pipeline()
            self.pipeline.__enter__()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        except IntegrityError as exc:
            # In a pipeline the server's refusal of an EARLIER statement (the batch's update) is
            # raised by whichever statement is being sent when its answer arrives: this one.
            raise self._refused(exc) from exc

    def _sync(self) -> None:
        """Wait for the statements sent by _execute_later; their errors are raised here."""
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            try:
                with connection.wrap_database_errors:
                    pipeline.__exit__(None, None, None)
            except IntegrityError as exc:
                raise self._refused(exc) from exc

    def _refused(self, exc: IntegrityError) -> ImportFailed:
        """A write the checks let through but the database refused: something changed meanwhile."""
        message = _("Another change to the same members happened during the import (%(problem)s); try again.")
        return ImportFailed([RowError(self.batch_line, "", "", message % {"problem": exc})])

    def abandon(self, exc: BaseException) -> None:
        """Leave the pipeline after a failure without hiding it (the transaction rolls back)."""
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.__exit__(type(exc), exc, exc.__traceback__)  # logs, never raises, when given an error

    # --- one batch ---

    def process(self, batch: list[_Row]) -> None:
        now = timezone.now()
        for row in batch:
            _clean(row, now, self.new_member)
        self._sync()  # the previous batch's history, written while this one was cleaned
        self._check_stores([row for row in batch if row.member is not None])
        self._check_repeats_in_batch([row for row in batch if not row.errors])
        good = [row for row in batch if not row.errors]
        existing = {
            member.external_id: member
            for member in Member.objects.select_for_update()
            .filter(external_id__in=[row.member.external_id for row in good])
            .order_by("pk")
        }
        for row in good:
            row.target = existing.get(row.member.external_id)
        self._check_phones_and_earlier_lines(good)

        bad = [row for row in batch if row.errors]
        if bad and not self.skip_errors:
            first = min(bad, key=lambda row: row.line)
            raise ImportFailed(first.errors)
        for row in bad:
            self.result.errors.extend(row.errors)
        self.result.skipped += len(bad)

        good = [row for row in batch if not row.errors]
        if not good:
            return
        self.batch_line = good[0].line
        try:
            self._write(good, now)
        except IntegrityError as exc:  # a concurrent change took a phone or an external id meanwhile
            raise self._refused(exc) from exc
        self._remember(good)
        self._analyse()
        self._add_preview(good)

    def _check_stores(self, rows: list[_Row]) -> None:
        wanted = {row.store_code for row in rows if row.store_code} - set(self.stores)
        if wanted:
            found = dict(Store.objects.filter(code__in=wanted).values_list("code", "pk"))
            for code in wanted:
                self.stores[code] = found.get(code)
        for row in rows:
            if row.store_code:
                row.member.home_store_id = self.stores[row.store_code]
                if row.member.home_store_id is None:
                    row.error("store", _("No store has the code “%(code)s”.") % {"code": row.store_code})

    def _check_repeats_in_batch(self, rows: list[_Row]) -> None:
        """A file may name an external id or a phone number once; this finds repeats within a batch.

        Repeats of rows of earlier batches are found in the database (they are stored by now):
        see _check_phones_and_earlier_lines.
        """
        first_lines: dict[tuple[str, str], int] = {}
        for row in rows:
            for column in ("external_id", "phone_hash"):
                key = (column, getattr(row.member, column))
                first = first_lines.setdefault(key, row.line)
                if first != row.line:
                    row.error(column.removesuffix("_hash"), self._repeat_message(column, first))

    @staticmethod
    def _repeat_message(column: str, line: int) -> str:
        if column == "external_id":
            return _("This external ID is already on line %(line)d of this file.") % {"line": line}
        return _("This phone number is already on line %(line)d of this file.") % {"line": line}

    def _check_phones_and_earlier_lines(self, rows: list[_Row]) -> None:
        """A phone belongs to one member; a member may be named by one line of the file."""
        phones = Member.objects.filter(phone_hash__in={row.member.phone_hash for row in rows}).order_by()
        owners = {phone_hash: (pk, no) for phone_hash, pk, no in phones.values_list("phone_hash", "pk", "member_no")}
        clashes = {}
        for row in rows:
            owner = owners.get(row.member.phone_hash)
            if owner and (row.target is None or owner[0] != row.target.pk):
                clashes[id(row)] = owner
        lines = self._lines_of([row.target.pk for row in rows if row.target] + [pk for pk, _no in clashes.values()])
        for row in rows:
            if row.target and row.target.pk in lines:
                row.error("external_id", self._repeat_message("external_id", lines[row.target.pk]))
            elif id(row) in clashes:
                pk, member_no = clashes[id(row)]
                if pk in lines:
                    row.error("phone", self._repeat_message("phone_hash", lines[pk]))
                else:
                    row.error(
                        "phone", _("Member %(member_no)s already has this phone number.") % {"member_no": member_no}
                    )

    def _write(self, rows: list[_Row], now: datetime.datetime) -> None:
        new_rows = [row for row in rows if row.target is None]
        changed: list[Member] = []
        changed_fields: set[str] = set()
        for row in rows:
            if row.target is None:
                row.target, row.action = row.member, "create"
                continue
            row.action = "unchanged"
            for name in row.fields:
                value = getattr(row.member, name)
                if getattr(row.target, name) != value:
                    setattr(row.target, name, value)
                    changed_fields.add(name.removesuffix("_id"))
                    row.action = "update"
            if row.action == "update":
                row.target.updated_at = now
                changed.append(row.target)

        if new_rows:
            for row, (member_no, referral_code) in zip(new_rows, new_member_numbers(len(new_rows)), strict=True):
                row.member.member_no, row.member.referral_code = member_no, referral_code
            _sql.insert_members([row.member for row in new_rows])
        self._add_tags(rows)
        self._set_consents(rows, now)
        # Last, as they read nothing back: on PostgreSQL they run while the next batch is cleaned.
        if changed:
            _sql.update_members(changed, sorted(changed_fields | {"updated_at"}), execute=self._execute_later)
        for members, history_type in (([row.member for row in new_rows], "+"), (changed, "~")):
            _sql.record_history(
                [member.pk for member in members],
                history_type=history_type,
                actor=self.actor,
                now=now,
                reason=CHANGE_REASON,
                execute=self._execute_later,
            )
        for row in rows:
            if row.action == "create":
                self.result.created += 1
            elif row.action == "update":
                self.result.updated += 1
            else:
                self.result.unchanged += 1

    def _add_tags(self, rows: list[_Row]) -> None:
        rows = [row for row in rows if row.tags]
        if not rows:
            return
        names = {tag for row in rows for tag in row.tags}
        tags = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        if len(tags) < len(names):
            Tag.objects.bulk_create([Tag(name=name) for name in names - set(tags)], ignore_conflicts=True)
            tags = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        through = Member.tags.through
        known = [row.target.pk for row in rows if row.action != "create"]
        present = (
            set(through.objects.filter(member_id__in=known).values_list("member_id", "tag_id")) if known else set()
        )
        links = []
        for row in rows:
            for name in row.tags:
                if (row.target.pk, tags[name]) not in present:
                    links.append(through(member_id=row.target.pk, tag_id=tags[name]))
                    if row.action == "unchanged":
                        row.action = "update"
        through.objects.bulk_create(links, ignore_conflicts=True)

    def _set_consents(self, rows: list[_Row], now: datetime.datetime) -> None:
        """`members.services.set_members_consents` for the batch: only real changes, each with an event."""
        rows = [row for row in rows if row.consents]
        if not rows:
            return
        events = set_members_consents(
            changes={row.target.pk: row.consents for row in rows}, actor=self.actor, source=ConsentSource.IMPORT, at=now
        )
        changed = {event.member_id for event in events}
        for row in rows:
            if row.action == "unchanged" and row.target.pk in changed:
                row.action = "update"

    def _add_preview(self, rows: list[_Row]) -> None:
        store_codes = {pk: code for code, pk in self.stores.items() if pk}
        for row in rows[: max(0, self.preview_rows - len(self.result.preview))]:
            member = row.target
            self.result.preview.append(
                {
                    "line": row.line,
                    "action": row.action,
                    "member_no": member.member_no if row.action != "create" else "",
                    "external_id": member.external_id,
                    "name": member.name,
                    "gender": member.get_gender_display(),
                    "phone": member.phone,
                    "email": member.email or "",
                    "birthday": member.birthday,
                    "registered_at": member.registered_at,
                    "store": store_codes.get(member.home_store_id, ""),
                    "tags": row.tags,
                    "consents": {ConsentTopic(topic).label: granted for topic, granted in row.consents.items()},
                }
            )
