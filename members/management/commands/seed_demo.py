"""`manage.py seed_demo`: a flower and gift shop chain with members, purchases and demo logins."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from loyalty_crm.roles import role_label
from members import demo
from members.models import Member


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Load deterministic demo data (stores, products, members with purchases and records) and create "
        "a demo login for each role. Development only."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=demo.DEFAULT_MEMBERS, help=_("how many members to create"))
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED, help=_("random seed: the same seed gives the same data")
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("create nothing when members already exist (the logins are still printed)"),
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help=_("run even with DEBUG off (the demo passwords are public: never on a real shop)"),
        )

    def handle(self, *args, members, seed, if_empty, allow_production, verbosity, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                _(
                    "seed_demo creates logins with published passwords and refuses to run with DEBUG off. "
                    "Use --allow-production only on a demo server."
                )
            )
        if members < 0:
            raise CommandError(_("--members must be 0 or more, not %(count)d.") % {"count": members})
        if if_empty and Member.objects.exists():
            self.stdout.write(_("Members already exist: no demo data created."))
            self._print_logins(demo.demo_logins())
            return
        started = time.monotonic()
        stream = getattr(self.stderr, "_out", sys.stderr)
        with tqdm(total=members, unit=_("members"), file=stream, disable=verbosity == 0) as bar:
            counts = demo.seed_demo(members=members, seed=seed, progress=bar.update)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Created %(members)d members with %(purchases)d purchases (%(items)d lines), "
                    "%(service)d service records, %(interactions)d interactions and %(preferences)d "
                    "preferences in %(seconds).1f s (seed %(seed)d)."
                )
                % {
                    "members": counts.members,
                    "purchases": counts.purchases,
                    "items": counts.purchase_items,
                    "service": counts.service_records,
                    "interactions": counts.interactions,
                    "preferences": counts.preferences,
                    "seconds": elapsed,
                    "seed": seed,
                }
            )
        )
        self._print_logins(counts.logins)

    def _print_logins(self, logins):
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(_("Demo logins — open %(url)s") % {"url": demo.ADMIN_URL}))
        rows = [(_("Role"), _("Username"), _("Password"))]
        for login in logins:
            if not login.exists:
                password = _("(no such user)")
            elif login.password is None:
                password = _("(changed since seeding)")
            else:
                password = login.password
            rows.append((role_label(login.role) if login.role else _("Superuser"), login.username, password))
        widths = [max(len(row[column]) for row in rows) for column in range(2)]
        for role, username, password in rows:
            self.stdout.write(f"  {role.ljust(widths[0])}  {username.ljust(widths[1])}  {password}")
