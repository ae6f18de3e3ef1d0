"""`manage.py export_member <member_no>`: a member's full data as JSON (the right of access)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.selectors import member_export, member_get


class Command(BaseCommand):
    help_text = gettext_lazy("Write a member's full data (profile, consents, purchases and records) as UTF-8 JSON.")

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument("member_no", help=_("the member's number, e.g. M1234567890"))
        parser.add_argument("--output", "-o", help=_("write to this file instead of standard output"))

    def handle(self, *args, member_no, output, **options):
        member = member_get(member_no.strip())
        if member is None:
            raise CommandError(_("No member has the number “%(member_no)s”.") % {"member_no": member_no})
        text = json.dumps(member_export(member), ensure_ascii=False, indent=2)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(
                _("Exported member %(member_no)s to %(path)s.") % {"member_no": member.member_no, "path": output}
            )
        else:
            self.stdout.write(text)
