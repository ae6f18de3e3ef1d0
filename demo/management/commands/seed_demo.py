"""`manage.py seed_demo`: a flower and gift shop chain a year deep, and a demo login per role."""

import logging
import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from demo import seed as demo_seed
from demo.centre import DEMO_MEMBER_PHONE
from demo.logins import demo_logins
from loyalty_crm.devserver import admin_url, default_addr
from loyalty_crm.roles import role_label
from members.models import Member

# The domain apps log each campaign, referral and offer at INFO: a summary replaces them here;
# kombu warns about the embedded broker's address on each task the seed's commit enqueues.
QUIET_LOGGERS = {
    "campaigns": logging.WARNING,
    "rewards": logging.WARNING,
    "members": logging.WARNING,
    "feedback": logging.WARNING,
    "kombu": logging.ERROR,
}


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Load deterministic demo data (a shop a year deep: members with purchases, rewards, coupons, campaigns, "
        "tickets, surveys, KPI targets and their classification) and create a demo login for each role. "
        "Development only."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument(
            "--members", type=int, default=demo_seed.DEFAULT_MEMBERS, help=_("how many members to create")
        )
        parser.add_argument(
            "--seed", type=int, default=demo_seed.DEFAULT_SEED, help=_("random seed: the same seed gives the same data")
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
        parser.add_argument(
            "--addr",
            default=default_addr(),
            help=_("address:port the server runs on, for the printed link (default: $RUNDEV_ADDR, else %(addr)s)")
            % {"addr": "127.0.0.1:8000"},
        )

    def handle(self, *args, members, seed, if_empty, allow_production, addr, verbosity, **options):

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
            self._print_logins(demo_logins(), addr)
            return
        started = time.monotonic()
        stream = getattr(self.stderr, "_out", sys.stderr)
        quiet = verbosity == 0
        with (
            _quiet_logs(),
            tqdm(total=members, unit=_("members"), file=stream, disable=quiet) as bar,
            tqdm(total=len(demo_seed.STEPS), desc=_("A year of activity"), file=stream, disable=quiet) as steps,
        ):

            def step(_name):
                steps.update(1)

            counts = demo_seed.seed_demo(members=members, seed=seed, progress=bar.update, step=step)
        self._print_summary(counts, seconds=time.monotonic() - started, seed=seed)
        self._print_logins(counts.logins, addr)

    def _print_summary(self, counts, *, seconds, seed):
        people, loyalty, marketing, service = counts.members, counts.rewards, counts.campaigns, counts.feedback
        self.stdout.write(
            self.style.SUCCESS(
                _("Created %(members)d members with %(purchases)d purchases in %(seconds).1f s (seed %(seed)d).")
                % {"members": people.members, "purchases": people.purchases, "seconds": seconds, "seed": seed}
            )
        )
        rows = [
            (
                _("Profiles"),
                _(
                    "%(items)d purchase lines, %(service)d service records, %(interactions)d interactions, "
                    "%(preferences)d preferences"
                )
                % {
                    "items": people.purchase_items,
                    "service": people.service_records,
                    "interactions": people.interactions,
                    "preferences": people.preferences,
                },
            ),
            (
                _("Rewards"),
                _("%(rewards)d rewards, %(templates)d coupon templates, %(plans)d plans, %(promotions)d promotions")
                % {
                    "rewards": loyalty.rewards,
                    "templates": loyalty.coupon_templates,
                    "plans": loyalty.plans,
                    "promotions": loyalty.promotions,
                },
            ),
            (
                _("Loyalty"),
                _("%(paid)d paid members, %(redemptions)d redemptions, %(issued)d coupons issued, %(used)d used")
                % {
                    "paid": loyalty.paid_members,
                    "redemptions": loyalty.redemptions,
                    "issued": loyalty.coupons_issued,
                    "used": loyalty.coupons_used,
                },
            ),
            (
                _("Stored value"),
                _("%(rules)d top-up rules, %(top_ups)d top-ups, %(payments)d payments, %(gifts)d gifts")
                % {
                    "rules": counts.stored_value.rules,
                    "top_ups": counts.stored_value.top_ups,
                    "payments": counts.stored_value.payments,
                    "gifts": counts.stored_value.gifts,
                },
            ),
            (
                _("Till"),
                _(
                    "%(sales)d sales at the till (%(walk_ins)d walk-in, %(points)d paid partly with points), "
                    "%(returns)d return"
                )
                % {
                    "sales": counts.till.sales,
                    "walk_ins": counts.till.walk_ins,
                    "points": counts.till.with_points,
                    "returns": counts.till.returns,
                },
            ),
            (
                _("Member centre"),
                _("sign in at /m/ with the demo phone %(phone)s (member %(member_no)s)")
                % {"phone": DEMO_MEMBER_PHONE, "member_no": counts.centre.member_no or "-"},
            ),
            (
                _("Member events"),
                _(
                    "%(events)d events, %(invited)d invitations sent, %(registrations)d sign-ups, "
                    "%(attended)d checked in"
                )
                % {
                    "events": counts.events.events,
                    "invited": counts.events.invited,
                    "registrations": counts.events.registrations,
                    "attended": counts.events.attended,
                },
            ),
            (
                _("Marketing"),
                _("%(campaigns)d campaigns, %(sent)d messages sent, %(segments)d segments, %(targets)d KPI targets")
                % {
                    "campaigns": marketing.campaigns,
                    "sent": marketing.messages_sent,
                    "segments": marketing.segments,
                    "targets": marketing.kpi_targets,
                },
            ),
            (
                _("Referrals"),
                _("%(referrals)d referral rewards, %(partner)d partner coupons")
                % {"referrals": marketing.referral_rewards, "partner": marketing.partner_coupons},
            ),
            (
                _("Service"),
                _("%(tickets)d tickets, %(csat)d CSAT and %(nps)d NPS answers, %(targets)d KPI targets")
                % {
                    "tickets": service.tickets,
                    "csat": service.csat_answers,
                    "nps": service.nps_answers,
                    "targets": service.kpi_targets,
                },
            ),
            (_("Classification"), _("%(count)d members classified") % {"count": marketing.classified}),
        ]
        width = max(len(label) for label, _text in rows)
        for label, text in rows:
            self.stdout.write(f"  {label.ljust(width)}  {text}")

    def _print_logins(self, logins, addr):
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(_("Demo logins — open %(url)s") % {"url": admin_url(addr)}))
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


@contextmanager
def _quiet_logs():
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, QUIET_LOGGERS.values(), strict=True):
        logger.setLevel(max(level, logger.level))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
