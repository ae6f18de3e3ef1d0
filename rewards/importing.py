"""Importing purchases from CSV: the service behind `manage.py import_purchases`.

Rules this module enforces:
- the header holds every required column (`external_ref, member_external_id, ordered_at, sku,
  category, quantity, unit_price`), optionally `store`, `channel` and `name`, and nothing else;
  the file is UTF-8 (a BOM is fine); rows with the same `external_ref` are the lines of one
  purchase and must agree on member, order time, store and channel;
- the whole file is checked before anything is written, and every problem is reported with its
  line (the header is line 1, as an editor shows it) and column: unknown or erased member, bad
  or future date, quantity not a whole number above 0, negative or malformed price, unknown
  store or channel, lines of one purchase that disagree, malformed CSV or encoding;
- idempotent on `external_ref`: a purchase already posted with the same content is skipped and
  counted; one posted with other content (or recorded without points) is a conflict, reported
  like any other error;
- all or nothing: one transaction, refused as a whole when anything is wrong — unless
  `skip_errors`, when the good purchases are posted and every bad one is reported;
- points and tiers exactly as the API earns them: the purchases go through
  `rewards.services.batch.post_purchases_batch` (the same rules as `post_purchase`, in bulk),
  ordered by `ordered_at` per member so tiers evolve as they happened.
"""

from __future__ import annotations

import datetime
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import reset_queries, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from loyalty_crm import bulk, inputs
from loyalty_crm.bulk import AnyOf
from loyalty_crm.csvimport import MAX_SHOWN_VALUE, ImportFailed, RowError, read_records
from members.models import Member, Purchase, PurchaseItem, SalesChannel, Store
from members.services import PurchaseDraft, PurchaseLine
from rewards.services import batch

REQUIRED_COLUMNS = ("external_ref", "member_external_id", "ordered_at", "sku", "category", "quantity", "unit_price")
OPTIONAL_COLUMNS = ("store", "channel", "name")
ALL_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# Columns every line of one purchase must repeat identically.
HEADER_COLUMNS = ("member_external_id", "ordered_at", "store", "channel")
CLOCK_SKEW = datetime.timedelta(minutes=10)
REF_MAX = Purchase._meta.get_field("external_ref").max_length
SKU_MAX = PurchaseItem._meta.get_field("sku").max_length
NAME_MAX = PurchaseItem._meta.get_field("name").max_length
CATEGORY_MAX = 100
MAX_PRICE = Decimal("9999999999.99")  # what max_digits=12, decimal_places=2 holds


@dataclass
class PurchaseImportResult:
    """What an import did (or, for a dry run, would do). Counts are purchases unless named lines."""

    posted: int = 0
    lines: int = 0
    already_posted: int = 0
    rejected: int = 0
    points_earned: int = 0
    tier_changes: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False


Progress = Callable[[str, int], None]  # ("read", data rows read) or ("post", purchases handled)


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    errors: list[RowError] = field(default_factory=list)
    ordered_at: datetime.datetime | None = None
    item: PurchaseLine | None = None

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, self.cells.get(column, "")[:MAX_SHOWN_VALUE], message))


@dataclass
class _Purchase:
    ref: str
    rows: list[_Row] = field(default_factory=list)
    member: Member | None = None
    draft: PurchaseDraft | None = None

    @property
    def first(self) -> _Row:
        return self.rows[0]

    @property
    def errors(self) -> list[RowError]:
        return [error for row in self.rows for error in row.errors]


def import_purchases(
    *,
    stream: typing.TextIO,
    actor=None,
    skip_errors: bool = False,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> PurchaseImportResult:
    """Post the purchases of the CSV text in `stream` (see the module docstring).

    Raises ImportFailed, with every error found, for a bad header or an unreadable file, and —
    unless `skip_errors` or `dry_run` — for any bad purchase; nothing of the file is stored then.
    A dry run checks everything, writes nothing and returns the errors and what would be posted.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with bulk.gc_paused():  # a third of the CPU time otherwise: see loyalty_crm.bulk
        return _import(stream, actor, skip_errors, dry_run, batch_size, progress or (lambda phase, count: None))


def _import(stream, actor, skip_errors, dry_run, batch_size, progress) -> PurchaseImportResult:
    purchases = _read(stream, progress)
    _check(purchases)
    result = PurchaseImportResult(dry_run=dry_run)
    good: list[_Purchase] = []
    for purchase in purchases.values():
        if purchase.errors:
            result.rejected += 1
            result.errors += purchase.errors
        elif purchase.draft is None:
            result.already_posted += 1
        else:
            good.append(purchase)
    result.errors.sort(key=lambda error: error.line)
    if result.errors and not (skip_errors or dry_run):
        raise ImportFailed(result.errors)
    if dry_run:
        result.posted = len(good)
        result.lines = sum(len(p.rows) for p in good)
        return result
    # Per member in time order; successive batches carry each member's purchases in order.
    good.sort(key=lambda p: (p.member.pk, p.draft.ordered_at, p.ref))
    handled = 0
    with transaction.atomic():
        for start in range(0, len(good), batch_size):
            chunk = good[start : start + batch_size]
            outcome = batch.post_purchases_batch(drafts=[p.draft for p in chunk], actor=actor)
            for purchase, answer in zip(chunk, outcome.outcomes, strict=True):
                if answer.status == batch.POSTED:
                    result.posted += 1
                    result.lines += len(purchase.rows)
                elif answer.status == batch.REPLAYED:  # posted by someone else since the check
                    result.already_posted += 1
                else:
                    result.rejected += 1
                    result.errors.append(RowError(purchase.first.line, "external_ref", purchase.ref, answer.detail))
            result.points_earned += outcome.points_earned
            result.tier_changes += outcome.tier_changes
            handled += len(chunk)
            progress("post", handled)
            if settings.DEBUG:
                reset_queries()  # in DEBUG Django keeps every statement; a bulk job must not
        if result.errors and not skip_errors:
            raise ImportFailed(result.errors)  # rolls every batch back
    result.errors.sort(key=lambda error: error.line)
    return result


# --- reading -------------------------------------------------------------------------------


def _read(stream: typing.TextIO, progress: Progress) -> dict[str, _Purchase]:
    """The file's purchases by reference, each row cleaned (errors kept on the row)."""
    purchases: dict[str, _Purchase] = {}
    now = timezone.now()
    times: dict[str, datetime.datetime | None] = {}  # the lines of a purchase repeat its time
    records = read_records(
        stream, required=REQUIRED_COLUMNS, allowed=ALL_COLUMNS, progress=lambda rows: progress("read", rows)
    )
    for record in records:
        row = _Row(record.line, record.cells, errors=record.errors)
        if row.errors:  # unreadable: a purchase of its own, its reference unknown
            ref = f"\0line {row.line}"
        else:
            _clean(row, now, times)
            ref = row.cells["external_ref"] or f"\0line {row.line}"
        purchase = purchases.get(ref)
        if purchase is None:
            purchase = purchases[ref] = _Purchase(ref)
        elif row.cells:
            _agree(purchase.first, row)
        purchase.rows.append(row)
    return purchases


def _parse_ordered_at(text: str) -> datetime.datetime | None:
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = datetime.datetime.combine(day, datetime.time()) if day else None
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def _clean(row: _Row, now: datetime.datetime, times: dict[str, datetime.datetime | None]) -> None:
    """Check one row's values (no database); `times` caches the order times parsed."""
    cells = row.cells
    ref = cells["external_ref"]
    if not ref:
        row.error("external_ref", _("The purchase's external reference is empty."))
    elif len(ref) > REF_MAX:
        row.error("external_ref", _("At most %(max)d characters.") % {"max": REF_MAX})
    if not cells["member_external_id"]:
        row.error("member_external_id", _("The member's external id is empty."))
    text = cells["ordered_at"]
    ordered_at = times.get(text, False)
    if ordered_at is False:
        ordered_at = times[text] = _parse_ordered_at(text)
    if ordered_at is None:
        row.error(
            "ordered_at",
            _("Not a date and time; write it as 2024-05-20 14:30 (or with a zone, 2024-05-20T14:30+08:00)."),
        )
    elif problem := inputs.datetime_problem(ordered_at):
        row.error("ordered_at", problem)
    elif ordered_at > now + CLOCK_SKEW:
        row.error("ordered_at", _("The order time is in the future."))
    row.ordered_at = ordered_at
    sku = cells["sku"]
    if not sku:
        row.error("sku", _("The SKU is empty."))
    elif len(sku) > SKU_MAX:
        row.error("sku", _("At most %(max)d characters.") % {"max": SKU_MAX})
    if len(cells["category"]) > CATEGORY_MAX:
        row.error("category", _("At most %(max)d characters.") % {"max": CATEGORY_MAX})
    if len(cells.get("name", "")) > NAME_MAX:
        row.error("name", _("At most %(max)d characters.") % {"max": NAME_MAX})
    quantity = None
    try:
        quantity = int(cells["quantity"])
    except ValueError:
        row.error("quantity", _("The quantity must be a whole number above 0."))
    else:
        if quantity <= 0:
            row.error("quantity", _("The quantity must be a whole number above 0."))
    unit_price = None
    try:
        unit_price = Decimal(cells["unit_price"])
        if not unit_price.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        row.error("unit_price", _("Not an amount; write it like 199.00."))
    else:
        if unit_price < 0:
            row.error("unit_price", _("The unit price cannot be negative."))
        elif unit_price != unit_price.quantize(Decimal("0.01")) or unit_price > MAX_PRICE:
            row.error("unit_price", _("An amount has at most two decimal places and ten digits before them."))
    channel = cells.get("channel", "")
    if channel and channel not in SalesChannel.values:
        row.error(
            "channel",
            _("Unknown channel; use one of: %(channels)s.") % {"channels": ", ".join(SalesChannel.values)},
        )
    if not row.errors:
        row.item = PurchaseLine(
            sku=sku, quantity=quantity, unit_price=unit_price, name=cells.get("name", ""), category=cells["category"]
        )


def _agree(first: _Row, row: _Row) -> None:
    """A further line of a purchase must repeat its first line's member, time, store and channel."""
    if not first.cells:
        return
    for column in HEADER_COLUMNS:
        if column not in row.cells:
            continue
        same = (
            row.ordered_at == first.ordered_at
            if column == "ordered_at" and row.ordered_at and first.ordered_at
            else row.cells[column] == first.cells[column]
        )
        if not same:
            row.error(
                column,
                _(
                    "The lines of purchase %(ref)s disagree: this line says “%(value)s”, its first line "
                    "(line %(first)d) “%(first_value)s”."
                )
                % {
                    "ref": row.cells["external_ref"],
                    "value": row.cells[column],
                    "first": first.line,
                    "first_value": first.cells[column],
                },
            )


# --- checking against the database ---------------------------------------------------------


def _check(purchases: dict[str, _Purchase]) -> None:
    """Members, stores and references already recorded, in a few queries; builds the drafts."""
    firsts = [p.first for p in purchases.values() if p.first.cells]
    member_ids = sorted({row.cells["member_external_id"] for row in firsts} - {""})
    members: dict[str, Member] = {}
    for start in range(0, len(member_ids), 10_000):
        for member in Member.objects.filter(AnyOf(F("external_id"), member_ids[start : start + 10_000])).only(
            "id", "member_no", "external_id", "status"
        ):
            members[member.external_id] = member
    store_codes = {row.cells.get("store", "") for row in firsts} - {""}
    stores = {store.code: store for store in Store.objects.filter(code__in=store_codes)}
    for purchase in purchases.values():
        first = purchase.first
        if not first.cells:
            continue
        external_id = first.cells["member_external_id"]
        member = members.get(external_id)
        if external_id and member is None:
            first.error("member_external_id", _("No member has the external id “%(id)s”.") % {"id": external_id})
        elif member is not None and member.status == Member.Status.ERASED:
            first.error(
                "member_external_id", _("Member %(member_no)s has been erased.") % {"member_no": member.member_no}
            )
        purchase.member = member
        code = first.cells.get("store", "")
        if code and code not in stores:
            first.error("store", _("No store has the code “%(code)s”.") % {"code": code})
        if purchase.errors:
            continue
        purchase.draft = PurchaseDraft(
            member=member,
            external_ref=purchase.ref,
            ordered_at=first.ordered_at,
            items=[row.item for row in purchase.rows],
            store=stores.get(code),
            channel=first.cells.get("channel", "") or SalesChannel.STORE,
        )
    valid = {ref: p for ref, p in purchases.items() if p.draft is not None}
    for ref, (_purchase, posting) in batch.recorded_purchases(valid).items():
        purchase = valid[ref]
        if posting is not None and posting.fingerprint == batch.fingerprint_of(purchase.draft):
            purchase.draft = None  # already posted with this content: skipped, counted
        else:
            purchase.first.error("external_ref", batch.conflict_detail(ref, posting))
