"""`manage.py import_purchases FILE.csv`: post purchases from a CSV file, earning points (rewards.importing)."""

from __future__ import annotations

import io
import os

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from tqdm import tqdm

from loyalty_crm.csvimport import ImportFailed
from loyalty_crm.csvimport_command import CsvImportCommand
from rewards.importing import import_purchases


class Command(CsvImportCommand):
    help_text = gettext_lazy(
        "Post purchases from a UTF-8 CSV file, earning points and updating tiers as the API does. "
        "Required columns: external_ref, member_external_id, ordered_at, sku, category, quantity, unit_price "
        "(rows with the same external_ref are the lines of one purchase); optional: store, channel, name. "
        "All or nothing unless --skip-errors; purchases already posted are skipped."
    )

    skip_errors_help = gettext_lazy(
        "Post the good purchases and write the bad ones to a report instead of refusing the file."
    )
    batch_size_help = gettext_lazy("Purchases posted together (default 5000).")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--by", help=_("Username recorded as the author of the points (optional)."))

    def handle(self, *args, **options):
        path = self.input_path(options)
        actor = None
        if options["by"]:
            actor = get_user_model().objects.filter(username=options["by"]).first()
            if actor is None:
                raise CommandError(_("No user is called %(username)s.") % {"username": options["by"]})
        show_progress = options["verbosity"] >= 1
        out = getattr(self.stderr, "_out", self.stderr)
        with open(path, "rb") as raw:
            # Reading follows the bytes read (no first pass to count rows), posting the purchases.
            reading = tqdm(
                total=os.path.getsize(path),
                unit="B",
                unit_scale=True,
                desc=_("checking"),
                file=out,
                disable=not show_progress,
            )
            posting = None

            def progress(phase: str, count: int) -> None:
                nonlocal posting
                if phase == "read":
                    reading.update(raw.tell() - reading.n)
                    return
                if posting is None:
                    reading.update(reading.total - reading.n)
                    reading.close()
                    posting = tqdm(desc=_("posting"), unit=_("purchases"), file=out, disable=not show_progress)
                posting.update(count - posting.n)

            stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                result = import_purchases(
                    stream=stream,
                    actor=actor,
                    skip_errors=options["skip_errors"],
                    dry_run=options["dry_run"],
                    batch_size=options["batch_size"],
                    progress=progress,
                )
            except ImportFailed as exc:
                report = self.write_report(path, options, exc.errors)
                raise CommandError(
                    ngettext(
                        "%(count)d error, so nothing was imported: %(first)s The report is in %(report)s.",
                        "%(count)d errors, so nothing was imported. The first: %(first)s "
                        "The report of all of them is in %(report)s.",
                        len(exc.errors),
                    )
                    % {"count": len(exc.errors), "first": exc.errors[0], "report": report},
                    returncode=1,
                ) from exc
            finally:
                reading.close()
                if posting is not None:
                    posting.close()

        counts = {
            "posted": result.posted,
            "lines": result.lines,
            "points": result.points_earned,
            "tiers": result.tier_changes,
            "skipped": result.already_posted,
            "bad": result.rejected,
        }
        if result.dry_run:
            summary = (
                _(
                    "Dry run, nothing was stored: would post %(posted)d purchases (%(lines)d lines); "
                    "already posted: %(skipped)d; purchases with errors: %(bad)d."
                )
                % counts
            )
        else:
            summary = (
                _(
                    "Posted %(posted)d purchases (%(lines)d lines), earning %(points)d points, with %(tiers)d "
                    "tier upgrades; already posted, skipped: %(skipped)d; purchases with errors: %(bad)d."
                )
                % counts
            )
        self.stdout.write(self.style.SUCCESS(summary) if not result.errors else summary)
        if result.errors:
            report = self.write_report(path, options, result.errors)
            if result.dry_run:
                message = ngettext(
                    "%(count)d purchase has errors; the report is in %(report)s.",
                    "%(count)d purchases have errors; the report is in %(report)s.",
                    result.rejected,
                )
            else:
                message = ngettext(
                    "%(count)d purchase with errors was not posted; the report is in %(report)s.",
                    "%(count)d purchases with errors were not posted; the report is in %(report)s.",
                    result.rejected,
                )
            # Non-zero, so scripts notice even when the good purchases were posted (--skip-errors).
            raise CommandError(message % {"count": result.rejected, "report": report}, returncode=1)
