"""`manage.py reevaluate_tiers [--dry-run]`: what the nightly task does, by hand, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from rewards.models import PointsAccount
from rewards.services.tiers import reevaluate_tiers, tier_policy


class Command(BaseCommand):
    @property
    def help(self):  # translated when asked for; argparse needs a str, not a lazy string
        return _(
            "Re-evaluate every member's tier under the tier policy: upgrade at once, start or clear grace "
            "periods, downgrade members whose grace period has ended. Safe to run again."
        )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=_("only report what would change; write nothing"))
        parser.add_argument(
            "--batch-size",
            type=int,
            default=10000,
            help=_("accounts per batch and transaction (default 10000)"),
        )

    def handle(self, *args, dry_run=False, batch_size=10000, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        policy = tier_policy()
        total = PointsAccount.objects.count()
        with tqdm(
            total=total,
            unit=_("accounts"),
            file=getattr(self.stderr, "_out", self.stderr),
            disable=options["verbosity"] < 1 or total <= batch_size,
        ) as bar:
            result = reevaluate_tiers(batch_size=batch_size, dry_run=dry_run, progress=bar.update)
        if policy.downgrade:
            policy_line = _("Policy: %(policy)s; grace period %(days)d days; periodic downgrades on.")
        else:
            policy_line = _("Policy: %(policy)s; periodic downgrades off.")
        self.stdout.write(policy_line % {"policy": self._policy_name(policy), "days": policy.grace_days})
        summary = _(
            "%(accounts)d accounts in %(batches)d batches: %(upgrades)d upgraded, %(downgrades)d downgraded, "
            "%(started)d newly below their tier (grace period started), %(cleared)d qualifying again."
        ) % {
            "accounts": result.accounts,
            "batches": result.batches,
            "upgrades": result.upgrades,
            "downgrades": result.downgrades,
            "started": result.grace_started,
            "cleared": result.grace_cleared,
        }
        for move, count in sorted(result.moves.items()):
            self.stdout.write(f"  {move}: {count}")
        if dry_run:
            self.stdout.write(
                self.style.WARNING(_("Dry run, nothing written. Would have: %(summary)s") % {"summary": summary})
            )
        else:
            self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def _policy_name(policy) -> str:
        from rewards.models import TierPolicy

        return str(TierPolicy(basis=policy.basis, window_months=policy.window_months))
