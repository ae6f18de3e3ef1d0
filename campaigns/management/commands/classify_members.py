"""`manage.py classify_members [--as-of YYYY-MM-DD]`: what the nightly task does, by hand."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from campaigns import model_reasons
from campaigns.models import Classification
from campaigns.services.classification import classify_members
from campaigns.services.segments import refresh_segment_sizes


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(_("--as-of must be a date as YYYY-MM-DD, not %(value)r.") % {"value": value}) from error


class Command(BaseCommand):
    help = _(
        "Classify every member (high value, potential, ordinary, lapsed), with RFM scores, churn risk and "
        "CLV, as of today or --as-of; then recount the segments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help=_("Classify as of this day (YYYY-MM-DD); default today."))
        parser.add_argument(
            "--no-progress", action="store_true", help=_("Do not show the progress bar (for logs and cron).")
        )

    def handle(self, *args, as_of=None, no_progress=False, **options):
        day = _date(as_of) if as_of else None
        steps = {"aggregate": _("Purchases"), "model": _("CLV model"), "rank": _("Ranking"), "save": _("Saving")}
        bar = None

        def progress(step: str, done: int, total: int) -> None:
            nonlocal bar
            if no_progress:
                return
            if bar is None or bar.desc != steps[step]:
                if bar is not None:
                    bar.close()
                bar = tqdm(total=total, desc=steps[step], file=getattr(self.stderr, "_out", self.stderr))
            bar.n = done
            bar.refresh()

        result = classify_members(as_of=day, progress=progress)
        if bar is not None:
            bar.close()
        refresh_segment_sizes()
        labels = dict(Classification.choices)
        self.stdout.write(
            _("Classified %(members)d members as of %(as_of)s in %(seconds).1f s.")
            % {"members": result.members, "as_of": result.as_of.isoformat(), "seconds": result.seconds}
        )
        width = max(len(str(label)) for label in labels.values())
        for code, count in result.counts.items():
            share = 100 * count / result.members if result.members else 0
            self.stdout.write(f"  {labels[code]!s:<{width}}  {count:>9}  {share:5.1f}%")
        model = result.model
        if model.get("fitted"):
            bg = model["bgnbd"]
            self.stdout.write(
                _("CLV model (BG/NBD, days, penalizer %(penalizer)g): r=%(r).4f alpha=%(alpha).4f a=%(a).4f b=%(b).4f")
                % {**bg, "penalizer": model["penalizer_coef"]}
            )
        else:
            self.stdout.write(_("CLV model not fitted: %(reason)s.") % {"reason": model_reasons.bgnbd_reason(model)})
        if model.get("method") == "rule":
            self.stdout.write(
                _(
                    "Churn risk and expected purchases from the recency rule (days since the last purchase "
                    "against the member's own gap between purchases)."
                )
            )
        if model.get("gamma_gamma"):
            self.stdout.write(_("Gamma-Gamma: p=%(p).4f q=%(q).4f v=%(v).4f") % model["gamma_gamma"])
