"""`manage.py refresh_recommendations`: recompute every member's product recommendations now
(the nightly task does the same)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import services


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Recompute every member's product recommendations: the top products they have not bought, from "
        "co-purchases over the last 12 months (the nightly task does the same)."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument(
            "--top", type=int, default=services.recommendations.TOP_N, help=_("products per member (default 5)")
        )

    def handle(self, *args, top, **options):
        if top < 1:
            raise CommandError(_("--top must be 1 or more."))
        started = time.perf_counter()
        run = services.refresh_recommendations(top_n=top)
        self.stdout.write(
            _("%(rows)d recommendations written in %(seconds).1f s.")
            % {"rows": run.rows, "seconds": time.perf_counter() - started}
        )
