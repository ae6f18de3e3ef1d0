"""`manage.py generate_encryption_key`: a new random key for FIELD_ENCRYPTION_KEY."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext_lazy

from loyalty_crm.crypto import generate_key


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Print a new random 256-bit key, base64-encoded, for FIELD_ENCRYPTION_KEY. To rotate keys, put the new "
        "key first (FIELD_ENCRYPTION_KEY=new,old), deploy, run rotate_encryption_key, then drop the old key."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def handle(self, *args, **options):
        self.stdout.write(generate_key())
