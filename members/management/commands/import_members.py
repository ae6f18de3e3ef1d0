"""`manage.py import_members FILE.csv`: create or update members from a CSV file (members.importing)."""

from __future__ import annotations

import io
import os

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from tqdm import tqdm

from loyalty_crm.csvimport_command import CsvImportCommand
from members.importing import ImportFailed, import_members


class Command(CsvImportCommand):
    help_text = gettext_lazy(
        "Create or update members from a UTF-8 CSV file, matched by external_id. Required columns: "
        "external_id, name, phone, email, birthday, registered_at; optional: gender, store, tags, "
        "consent_marketing_email, consent_marketing_sms, consent_marketing_wechat, consent_data_processing. "
        "All or nothing unless --skip-errors."
    )

    skip_errors_help = gettext_lazy(
        "Import the good rows and write the bad ones to a report instead of stopping at the first."
    )
    batch_size_help = gettext_lazy(
        "Rows read, checked and written together (default 5000; memory grows with it, about 4 KB a row)."
    )

    def handle(self, *args, **options):
        path = self.input_path(options)
        show_progress = options["verbosity"] >= 1
        # The bar follows the bytes read, so it needs no first pass to count the rows of a huge file.
        with (
            open(path, "rb") as raw,
            tqdm(
                total=os.path.getsize(path),
                unit="B",
                unit_scale=True,
                desc=path.name,
                file=getattr(self.stderr, "_out", self.stderr),
                disable=not show_progress,
            ) as bar,
        ):
            stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

            def progress(rows_read: int) -> None:
                bar.update(raw.tell() - bar.n)

            try:
                result = import_members(
                    stream=stream,
                    skip_errors=options["skip_errors"],
                    dry_run=options["dry_run"],
                    progress=progress,
                    batch_size=options["batch_size"],
                )
            except ImportFailed as exc:
                raise CommandError(
                    _("%(problem)s Nothing was imported.") % {"problem": exc.detail}, returncode=1
                ) from exc
            bar.update(bar.total - bar.n)

        counts = {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "skipped": result.skipped,
        }
        if result.dry_run:
            summary = (
                _(
                    "Dry run, nothing was stored: would create %(created)d, update %(updated)d, "
                    "leave %(unchanged)d unchanged; bad rows: %(skipped)d."
                )
                % counts
            )
        else:
            summary = (
                _("Created %(created)d, updated %(updated)d, unchanged %(unchanged)d; bad rows skipped: %(skipped)d.")
                % counts
            )
        self.stdout.write(self.style.SUCCESS(summary) if not result.errors else summary)
        if result.errors:
            report = self.write_report(path, options, result.errors)
            if result.dry_run and not options["skip_errors"]:
                raise CommandError(
                    ngettext(
                        "%(count)d row has errors, so the import would stop at it: %(first)s "
                        "The report is in %(report)s.",
                        "%(count)d rows have errors, so the import would stop at the first: %(first)s "
                        "The report of all of them is in %(report)s.",
                        result.skipped,
                    )
                    % {"count": result.skipped, "first": result.errors[0], "report": report},
                    returncode=1,
                )
            if result.dry_run:
                message = ngettext(
                    "%(count)d bad row would be skipped; the report is in %(report)s.",
                    "%(count)d bad rows would be skipped; the report is in %(report)s.",
                    result.skipped,
                )
            else:
                message = ngettext(
                    "%(count)d bad row was not imported; the report is in %(report)s.",
                    "%(count)d bad rows were not imported; the report is in %(report)s.",
                    result.skipped,
                )
            self.stderr.write(message % {"count": result.skipped, "report": report})
