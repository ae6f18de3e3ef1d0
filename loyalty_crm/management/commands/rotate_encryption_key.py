"""`manage.py rotate_encryption_key`: re-seal every encrypted value under the primary key.

Procedure: generate a key (`generate_encryption_key`), put it first (`FIELD_ENCRYPTION_KEY=new,old`),
deploy everywhere, run this command, check with `--check`, then drop the old key from the setting.
Values are read and written in primary-key order, a batch per transaction with its rows locked,
so the command can run while the shop is open and be re-run after an interruption.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from loyalty_crm import crypto
from loyalty_crm.fields import EncryptedTextField

# bulk_update writes one CASE WHEN per row and field; keep each UPDATE statement small.
UPDATE_BATCH = 100


@dataclass(frozen=True)
class HashRule:
    """A lookup-hash column computed from an encrypted column."""

    hash_field: str
    source_field: str
    key: Callable[[str], str]


def hash_rules(model) -> list[HashRule]:
    """The lookup hashes kept beside encrypted values: the member's phone and email (and their history)."""
    from members.models import Member
    from members.normalize import email_key

    if model is Member or model is Member.history.model:
        return [HashRule("phone_hash", "phone", lambda phone: phone), HashRule("email_hash", "email", email_key)]
    return []


def encrypted_models() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every installed model with encrypted columns, with those columns."""
    found = []
    for model in apps.get_models():
        encrypted = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if encrypted:
            found.append((model, encrypted))
    return found


@dataclass
class Tally:
    rows: int = 0
    values: int = 0
    stale_values: Counter = field(default_factory=Counter)  # "label.field" -> count
    stale_hashes: Counter = field(default_factory=Counter)
    unreadable: Counter = field(default_factory=Counter)


class Command(BaseCommand):
    help_text = gettext_lazy(
        "Re-encrypt every encrypted value (members and their history) under the first key of "
        "FIELD_ENCRYPTION_KEY and recompute the lookup hashes. With --check, only count what is left to do."
    )

    @property
    def help(self) -> str:  # argparse needs a str, not a lazy string
        return str(self.help_text)

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help=_("change nothing; exit with an error if any value is not yet under the primary key"),
        )
        parser.add_argument("--batch-size", type=int, default=1000, help=_("rows per transaction"))

    def handle(self, *args, check, batch_size, verbosity, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        primary = crypto.keys()[0].key_id
        targets = [(model, fields, self._queryset(model, fields)) for model, fields in encrypted_models()]
        tally = Tally()
        stream = getattr(self.stderr, "_out", sys.stderr)
        total = sum(queryset.count() for _model, _fields, queryset in targets)
        with tqdm(total=total, unit=_("rows"), file=stream, disable=verbosity == 0) as bar:
            for model, fields, queryset in targets:
                bar.set_description(model._meta.label)
                last_pk = None
                while True:
                    with transaction.atomic():
                        batch = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
                        if not check:
                            batch = batch.select_for_update()
                        rows = list(batch[:batch_size])
                        if not rows:
                            break
                        changed = self._process(model, fields, rows, tally, check=check)
                        if changed and not check:
                            model._base_manager.bulk_update(
                                changed, self._written_fields(model, fields), batch_size=UPDATE_BATCH
                            )
                    last_pk = rows[-1][0]
                    bar.update(len(rows))
        self._report(check, primary, tally)

    @staticmethod
    def _queryset(model, fields):
        """(pk, raw sealed values…, hashes…) of the rows holding any encrypted value, in pk order."""
        raw = {f"raw__{f.attname}": ExpressionWrapper(F(f.attname), output_field=models.TextField()) for f in fields}
        any_value = Q()
        for encrypted in fields:
            any_value |= Q(**{f"{encrypted.attname}__isnull": False})
        hashes = [rule.hash_field for rule in hash_rules(model)]
        return model._base_manager.filter(any_value).annotate(**raw).order_by("pk").values_list("pk", *raw, *hashes)

    @staticmethod
    def _written_fields(model, fields) -> list[str]:
        return [f.name for f in fields] + [rule.hash_field for rule in hash_rules(model)]

    def _process(self, model, fields, rows, tally: Tally, *, check: bool) -> list:
        """Open each row's values; return unsaved instances for the rows that need writing."""
        rules = hash_rules(model)
        label = model._meta.label
        changed = []
        for row in rows:
            pk, sealed, hashes = row[0], row[1 : 1 + len(fields)], row[1 + len(fields) :]
            tally.rows += 1
            plain, stale = {}, False
            for encrypted, token in zip(fields, sealed, strict=True):
                name = encrypted.name
                if token in (None, ""):
                    plain[name] = token
                    continue
                tally.values += 1
                try:
                    plain[name] = crypto.decrypt(token)
                except (crypto.DecryptionError, InvalidTag, ValueError) as exc:
                    tally.unreadable[f"{label}.{name}"] += 1
                    if check:
                        continue
                    raise CommandError(
                        _("%(model)s.%(field)s of row %(pk)s cannot be decrypted: %(error)s")
                        % {
                            "model": label,
                            "field": name,
                            "pk": pk,
                            "error": str(exc) or _("authentication failed (the stored value was altered)"),
                        }
                    ) from exc
                if not crypto.is_sealed_with_primary(token):
                    tally.stale_values[f"{label}.{name}"] += 1
                    stale = True
            for rule, current in zip(rules, hashes, strict=True):
                if rule.source_field not in plain:
                    continue  # unreadable, already counted
                value = plain[rule.source_field]
                expected = crypto.lookup_hash(rule.key(value)) if value else ""
                plain[rule.hash_field] = expected
                if current != expected:
                    tally.stale_hashes[f"{label}.{rule.hash_field}"] += 1
                    stale = True
            if stale and not check:
                instance = model(pk=pk)
                for name, value in plain.items():
                    setattr(instance, name, value)
                changed.append(instance)
        return changed

    def _report(self, check: bool, primary: str, tally: Tally) -> None:
        values, hashes, unreadable = (
            sum(tally.stale_values.values()),
            sum(tally.stale_hashes.values()),
            sum(tally.unreadable.values()),
        )
        for name, count in sorted((tally.stale_values + tally.stale_hashes).items()):
            self.stdout.write(f"  {name}: {count}")
        for name, count in sorted(tally.unreadable.items()):
            self.stdout.write("  " + _("%(name)s: %(count)d unreadable") % {"name": name, "count": count})
        if check:
            if unreadable:
                raise CommandError(
                    _(
                        "%(unreadable)d of %(total)d encrypted values cannot be decrypted with any configured key: "
                        "put the missing key back in FIELD_ENCRYPTION_KEY."
                    )
                    % {"unreadable": unreadable, "total": tally.values}
                )
            if values or hashes:
                raise CommandError(
                    _(
                        "%(values)d of %(total)d encrypted values are not under the primary key %(key)s and "
                        "%(hashes)d lookup hashes are stale: run rotate_encryption_key."
                    )
                    % {"values": values, "total": tally.values, "key": primary, "hashes": hashes}
                )
            self.stdout.write(
                self.style.SUCCESS(
                    _("All %(total)d encrypted values and their lookup hashes are under the primary key %(key)s.")
                    % {"total": tally.values, "key": primary}
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Re-encrypted %(values)d values and recomputed %(hashes)d lookup hashes in %(rows)d rows "
                    "under the primary key %(key)s."
                )
                % {"values": values, "hashes": hashes, "rows": tally.rows, "key": primary}
            )
        )
