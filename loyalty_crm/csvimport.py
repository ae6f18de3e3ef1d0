"""The one CSV reader of the project's imports (`members.importing`, `rewards.importing`).

What every import shares: the header (trimmed, lower case, a BOM dropped; every missing, unknown
or repeated column named at once), line numbers as an editor shows them (the header is line 1; a
value spanning lines counts each), blank lines and rows of empty cells skipped, a row of the wrong
width or holding a NUL character refused whole (PostgreSQL text cannot store NUL:
`loyalty_crm.inputs`), and a file that is not UTF-8 or not CSV refused naming the line. What a row
means is each import's own business.
"""

from __future__ import annotations

import csv
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from loyalty_crm import inputs
from loyalty_crm.errors import DomainError

MAX_SHOWN_VALUE = 200


@dataclass(frozen=True)
class RowError:
    """One problem in the file. `line` counts the header as line 1."""

    line: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("Line %(line)d, column %(column)s: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return _("Line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


class ImportFailed(DomainError):
    """The file was refused; nothing of it was stored. `errors` says where and why."""

    code = "import_failed"

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        super().__init__(" ".join(str(error) for error in self.errors))


def write_error_report(out: typing.TextIO, errors: list[RowError]) -> None:
    """The bad rows as CSV: line, column, value, message (the commands' and the admin's report)."""
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "message"])
    for error in errors:
        writer.writerow([error.line, error.column, error.value, error.message])


def read_header(reader: Iterator[list[str]], *, required: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """The CSV header's column names (trimmed, lower case, a BOM dropped); raises ImportFailed
    naming every missing, unknown or repeated column."""
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed([RowError(1, "", "", _("The file is empty; it needs a header line."))]) from None
    if any(inputs.NUL in name for name in header):
        raise ImportFailed([RowError(1, "", "", str(inputs.NUL_MESSAGE))])
    columns = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
    named = [name for name in columns if name]
    problems = []
    missing = [name for name in required if name not in named]
    if missing:
        problems.append(
            RowError(
                1,
                ", ".join(missing),
                "",
                _("Required columns are missing: %(columns)s.") % {"columns": ", ".join(missing)},
            )
        )
    unknown = [name for name in named if name not in allowed]
    if unknown:
        problems.append(
            RowError(
                1,
                ", ".join(unknown),
                "",
                _("Unknown columns: %(columns)s. The columns this import reads are: %(allowed)s.")
                % {"columns": ", ".join(unknown), "allowed": ", ".join(allowed)},
            )
        )
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        problems.append(
            RowError(
                1,
                ", ".join(twice),
                "",
                _("These columns appear more than once: %(columns)s.") % {"columns": ", ".join(twice)},
            )
        )
    if problems:
        raise ImportFailed(problems)
    return columns


def null_character_errors(line: int, columns: list[str], record: list[str]) -> list[RowError]:
    """An error for each cell of a row holding a NUL character: such a row is refused whole,
    before any of it reaches a query."""
    return [
        RowError(line, name, inputs.shown(cell)[:MAX_SHOWN_VALUE], str(inputs.NUL_MESSAGE))
        for name, cell in zip(columns, record, strict=False)
        if inputs.NUL in cell
    ]


@dataclass
class Record:
    """One data row: its first line, its trimmed cells by column, and what makes it unreadable
    (wrong width, a NUL character: then `cells` is empty)."""

    line: int
    cells: dict[str, str]
    errors: list[RowError] = field(default_factory=list)


def read_records(
    stream: typing.TextIO,
    *,
    required: Sequence[str],
    allowed: Sequence[str],
    progress: Callable[[int], None] | None = None,
    every: int = 5000,
) -> Iterator[Record]:
    """The file's data rows, one `Record` each (blank lines skipped, still counted in line numbers).

    `progress(rows_read)` is called every `every` rows and at the end. A file that is not UTF-8,
    or not CSV, raises ImportFailed naming the line it reached.
    """
    reader = csv.reader(stream)
    line = 1
    try:
        columns = read_header(reader, required=required, allowed=allowed)
        width = len(columns)
        line = reader.line_num + 1
        rows_read = 0
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and spreadsheet rows of empty cells
            rows_read += 1
            if len(cells) != width:
                message = _("Expected %(expected)d values as in the header, found %(found)d.") % {
                    "expected": width,
                    "found": len(cells),
                }
                record = Record(start, {}, [RowError(start, "", ",".join(cells)[:MAX_SHOWN_VALUE], message)])
            elif nul := null_character_errors(start, columns, cells):
                record = Record(start, {}, nul)
            else:
                record = Record(start, {name: cell.strip() for name, cell in zip(columns, cells, strict=True) if name})
            yield record
            if progress is not None and rows_read % every == 0:
                progress(rows_read)
        if progress is not None:
            progress(rows_read)
    except UnicodeDecodeError:
        raise ImportFailed(
            [RowError(line, "", "", _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."))]
        ) from None
    except csv.Error as exc:
        raise ImportFailed(
            [RowError(line, "", "", _("The file is not valid CSV: %(problem)s.") % {"problem": exc})]
        ) from None
