"""`manage.py recompute_balances [--check | --fix]`: every points account against its ledger (invariant 1),
and every stored-value account against its ledger and bonus lots (reported, never repaired here).

The ledger is the truth (see rewards.services.integrity): `--fix` corrects the accounts to it and
never changes a ledger row.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils.translation import gettext as _
from tqdm import tqdm

from rewards.models import PointsAccount
from rewards.services.integrity import find_balance_mismatches, find_stored_value_mismatches, repair_balances


class Command(BaseCommand):
    @property
    def help(self):  # translated when asked for; argparse needs a str, not a lazy string
        return _(
            "Check that every points account's balance and lifetime earned equal the sums of its ledger "
            "(exit status 1 if not); with --fix, correct the accounts to their ledger."
        )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--check", action="store_true", help=_("only report mismatches (the default)"))
        mode.add_argument("--fix", action="store_true", help=_("correct mismatched accounts to their ledger"))
        parser.add_argument(
            "--batch-size",
            type=int,
            default=10000,
            help=_("accounts checked per query (default 10000); a progress bar shows above one batch"),
        )
        parser.add_argument("--by", metavar="USERNAME", help=_("the staff user running the repair (logged)"))

    def handle(self, *args, fix=False, batch_size=10000, by=None, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        actor = None
        if by:
            actor = get_user_model().objects.filter(username=by).first()
            if actor is None:
                raise CommandError(_("No user is called “%(username)s”.") % {"username": by})
        bounds = PointsAccount.objects.aggregate(low=Min("pk"), high=Max("pk"))
        total = PointsAccount.objects.count()
        found = []
        if total:
            with tqdm(
                total=total,
                unit=_("accounts"),
                file=getattr(self.stderr, "_out", self.stderr),
                disable=options["verbosity"] < 1 or total <= batch_size,
            ) as bar:
                start = bounds["low"]
                while start <= bounds["high"]:
                    batch = PointsAccount.objects.filter(pk__gte=start, pk__lt=start + batch_size)
                    if fix:
                        found += repair_balances(actor=actor, accounts=batch)
                    else:
                        found += find_balance_mismatches(accounts=batch)
                    bar.update(batch.count() if not bar.disable else 0)
                    start += batch_size
        stored_value = self._check_stored_value()
        if not found and not stored_value:
            self.stdout.write(self.style.SUCCESS(_("All %(total)d accounts match their ledger.") % {"total": total}))
            return
        header = _("Corrected") if fix else _("Mismatch")
        for m in found:
            self.stdout.write(
                _(
                    "%(header)s: member %(member_no)s: account balance %(balance)d, ledger sum %(ledger)d; "
                    "lifetime earned %(earned)d, ledger %(ledger_earned)d"
                )
                % {
                    "header": header,
                    "member_no": m.member_no,
                    "balance": m.balance,
                    "ledger": m.ledger_balance,
                    "earned": m.lifetime_earned,
                    "ledger_earned": m.ledger_lifetime_earned,
                }
            )
        if fix and stored_value:
            raise CommandError(
                _(
                    "%(count)d stored-value accounts do not match their ledger; they are money the shop owes and are "
                    "not corrected automatically: investigate, then adjust them with a reason."
                )
                % {"count": stored_value},
                returncode=1,
            )
        if fix:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Corrected %(count)d of %(total)d accounts to their ledger; no ledger row was changed.")
                    % {"count": len(found), "total": total}
                )
            )
            return
        if not found:
            raise CommandError(
                _("%(count)d stored-value accounts do not match their ledger.") % {"count": stored_value}, returncode=1
            )
        raise CommandError(
            _("%(count)d of %(total)d accounts do not match their ledger; run with --fix to correct them.")
            % {"count": len(found), "total": total},
            returncode=1,
        )

    def _check_stored_value(self) -> int:
        """Report each stored-value account that disagrees with its ledger or lots; return how many."""
        found = find_stored_value_mismatches()
        for m in found:
            self.stdout.write(
                _(
                    "Stored-value mismatch: member %(member_no)s: principal %(principal)s, "
                    "ledger %(ledger_principal)s; bonus %(bonus)s, ledger %(ledger_bonus)s, bonus lots %(lots)s"
                )
                % {
                    "member_no": m.member_no,
                    "principal": m.principal,
                    "ledger_principal": m.ledger_principal,
                    "bonus": m.bonus,
                    "ledger_bonus": m.ledger_bonus,
                    "lots": m.lots_bonus,
                }
            )
        return len(found)
