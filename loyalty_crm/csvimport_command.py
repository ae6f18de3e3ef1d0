"""The shell every CSV import command shares (`import_members`, `import_purchases`).

The same arguments (`FILE`, `--skip-errors`, `--report`, `--batch-size`, `--dry-run`), the same
checks before reading (the file exists, the batch size is at least 1), and the same report of bad
rows (UTF-8 with a BOM, so Excel shows Chinese text right; FILE.errors.csv next to the input
unless `--report` says where). What a row means and what the summary says is each command's own.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from loyalty_crm.csvimport import RowError, write_error_report


class CsvImportCommand(BaseCommand):
    help_text = ""  # a lazy translated string: the command's description
    skip_errors_help = ""  # what --skip-errors does for this import
    batch_size_help = ""  # what a batch is for this import

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The CSV file (UTF-8, with or without BOM)."))
        parser.add_argument("--skip-errors", action="store_true", help=str(self.skip_errors_help))
        parser.add_argument(
            "--report",
            help=_("Where to write the report of bad rows (default: FILE.errors.csv next to the input)."),
        )
        parser.add_argument("--batch-size", type=int, default=5000, help=str(self.batch_size_help))
        parser.add_argument(
            "--dry-run", action="store_true", help=_("Check the whole file and report, but store nothing.")
        )

    def input_path(self, options) -> Path:
        """The file to read, once the file and the batch size are checked."""
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        if options["batch_size"] < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        return path

    def write_report(self, path: Path, options, errors: list[RowError]) -> Path:
        """Write the bad rows' report; returns where it went."""
        report = Path(options["report"]) if options["report"] else path.with_name(path.name + ".errors.csv")
        with open(report, "w", encoding="utf-8-sig", newline="") as out:
            write_error_report(out, errors)
        return report
