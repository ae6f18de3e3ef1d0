"""`manage.py erase_member <member_no>`: anonymise a member irreversibly (the right to be forgotten)."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import services
from members.selectors import member_get


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Erase (anonymise) a member irreversibly: personal data, tags, preferences, record texts and earlier "
        "versions in the history are wiped; purchases and their totals stay for reports."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument("member_no", help=_("the member's number, e.g. M1234567890"))
        parser.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
        parser.add_argument("--by", metavar="USERNAME", help=_("the staff user asking for the erasure (audited)"))

    def handle(self, *args, member_no, yes, by=None, **options):
        actor = None
        if by:
            from django.contrib.auth import get_user_model

            actor = get_user_model().objects.filter(username=by).first()
            if actor is None:
                raise CommandError(_("No user is called “%(username)s”.") % {"username": by})
        member = member_get(member_no.strip())
        if member is None:
            raise CommandError(_("No member has the number “%(member_no)s”.") % {"member_no": member_no})
        if member.is_erased:
            self.stdout.write(_("Member %(member_no)s was already erased; nothing to do.") % {"member_no": member_no})
            return
        if not yes:
            self.stdout.write(
                _("This erases member %(member_no)s (%(name)s) irreversibly. Type the member number to confirm: ")
                % {"member_no": member.member_no, "name": member.name},
                ending="",
            )
            self.stdout.flush()
            try:
                answer = input().strip()
            except EOFError:  # no terminal to answer from
                answer = ""
            if answer != member.member_no:
                raise CommandError(_("The number typed does not match; nothing was erased."))
        versions = member.history.count()
        purchases = member.purchases.aggregate(total=Sum("total"))["total"]
        purchase_count = member.purchases.count()
        services.erase_member(member=member, actor=actor)
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Member %(member_no)s erased: name, phone, email, birthday, external ID, notes, tags, "
                    "preferences and the texts of service and interaction records wiped; consents withdrawn. "
                    "Earlier versions removed from the change history: %(versions)d. Purchases kept for "
                    "reports: %(purchases)d, total %(total)s %(currency)s."
                )
                % {
                    "member_no": member.member_no,
                    "versions": versions,
                    "purchases": purchase_count,
                    "total": (purchases or Decimal("0")).quantize(Decimal("0.01")),
                    "currency": settings.CURRENCY,
                }
            )
        )
