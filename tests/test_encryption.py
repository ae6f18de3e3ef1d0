"""Personal data at rest: nothing readable in a dump, exact lookup by hash, key rotation, tampering."""

from __future__ import annotations

import base64
import datetime
import io
import os
import shutil
import subprocess

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from loyalty_crm import crypto
from members import services
from members.models import Member
from tests.conftest import missing_service

NAME = "李娜"
PHONE = "138 0013 8000"
EMAIL = "Li.Na@Example.COM"
BIRTHDAY = datetime.date(1990, 5, 17)
# Every form in which the personal data could leak into a dump.
PLAINTEXTS = ["13800138000", "+8613800138000", "li.na@example.com", "1990-05-17", "19900517"]


def create_people() -> Member:
    member = services.create_member(name=NAME, phone=PHONE, email=EMAIL, birthday=BIRTHDAY)
    services.update_member(member=member, notes="喜欢白色花束")  # a second version in the history
    services.create_member(name="张伟", phone="+86 139 0013 9000")
    return member


def sql_dump() -> str:
    """Every row of every table, read with raw SQL."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (table names from the schema)
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def leaks(dump: str) -> list[str]:
    return [text for text in PLAINTEXTS if text in dump.lower()]


@pytest.fixture
def two_keys(settings):
    """(old, new) keys; the old one is in use."""
    old, new = crypto.generate_key(), crypto.generate_key()
    use_keys(settings, old)
    return old, new


def use_keys(settings, *keys: str) -> None:
    settings.FIELD_ENCRYPTION_KEY = ",".join(keys)
    crypto._keys_for.cache_clear()


def raw_column(member: Member, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM members_member WHERE id = %s", [member.pk])  # noqa: S608
        return cursor.fetchone()[0]


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- nothing readable at rest ------------------------------------------------------------------


@pytest.mark.django_db
def test_database_rows_hold_no_plaintext_phone_email_or_birthday():
    create_people()
    dump = sql_dump()
    assert NAME in dump  # the dump really holds the member rows (names are not encrypted)
    assert leaks(dump) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_dump_holds_no_plaintext_phone_email_or_birthday():
    if not shutil.which("pg_dump"):
        missing_service("this test needs pg_dump (apt-get install postgresql-client)")
    create_people()
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = ["pg_dump", "--data-only", "--no-owner", "-d", db["NAME"], "-U", db.get("USER") or "postgres"]
    if db.get("HOST"):
        command += ["-h", db["HOST"]]
    if db.get("PORT"):
        command += ["-p", str(db["PORT"])]
    dump = subprocess.run(command, env=env, capture_output=True, check=True).stdout.decode("utf-8")
    assert NAME in dump
    assert leaks(dump) == []


@pytest.mark.django_db
def test_values_are_sealed_with_the_key_id_and_a_fresh_nonce():
    member = create_people()
    other = services.create_member(name="王芳", email=EMAIL)
    assert raw_column(member, "phone").startswith(f"v1${crypto.keys()[0].key_id}$")
    assert raw_column(member, "email") != raw_column(other, "email")  # same email, different ciphertext


# --- lookup ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["13800138000", "+8613800138000", "+86 138 0013 8000", "138-0013-8000", "(+86) 138 0013 8000"]
)
def test_lookup_by_phone_works_in_any_format(typed):
    member = create_people()
    assert list(Member.objects.with_phone(typed)) == [member]


@pytest.mark.django_db
def test_lookup_by_email_ignores_case():
    member = create_people()
    assert list(Member.objects.with_email("LI.NA@example.com")) == [member]


@pytest.mark.django_db
def test_encrypted_fields_refuse_other_lookups_than_isnull():
    with pytest.raises(TypeError, match="lookup hash"):
        Member.objects.filter(phone="+8613800138000").count()


# --- keys --------------------------------------------------------------------------------------


def test_generate_encryption_key_prints_a_new_32_byte_key():
    first, second = io.StringIO(), io.StringIO()
    call_command("generate_encryption_key", stdout=first)
    call_command("generate_encryption_key", stdout=second)
    assert len(base64.urlsafe_b64decode(first.getvalue().strip())) == 32
    assert first.getvalue() != second.getvalue()


def test_value_sealed_under_an_unknown_key_gives_a_clear_error(settings):
    use_keys(settings, crypto.generate_key())
    token = crypto.encrypt("+8613800138000")
    use_keys(settings, crypto.generate_key())
    with pytest.raises(crypto.DecryptionError, match=token.split("$")[1]):
        crypto.decrypt(token)


def test_tampered_ciphertext_fails_authentication():
    token = crypto.encrypt("+8613800138000")
    prefix, key_id, body = token.split("$")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 0x01
    with pytest.raises((InvalidTag, crypto.DecryptionError)):
        crypto.decrypt(f"{prefix}${key_id}${base64.b64encode(bytes(raw)).decode()}")


@pytest.mark.django_db
def test_a_row_altered_in_the_database_cannot_be_read():
    member = create_people()
    token = raw_column(member, "phone")
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE members_member SET phone = %s WHERE id = %s", [altered, member.pk])
    with pytest.raises((InvalidTag, crypto.DecryptionError)):
        Member.objects.get(pk=member.pk)


# --- rotation ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_fails_while_values_are_under_an_old_key(settings, two_keys):
    old, new = two_keys
    create_people()
    use_keys(settings, new, old)
    with pytest.raises(CommandError, match="not under the primary key"):
        rotate("--check")


@pytest.mark.django_db
def test_rotation_lets_the_old_key_be_dropped(settings, two_keys):
    old, new = two_keys
    member = create_people()
    use_keys(settings, new, old)
    rotate("--batch-size", "2")

    use_keys(settings, new)
    member = Member.objects.get(pk=member.pk)
    assert (member.phone, member.email, member.birthday) == ("+8613800138000", "Li.Na@example.com", BIRTHDAY)
    assert list(Member.objects.with_phone("13800138000")) == [member]
    assert list(Member.objects.with_email(EMAIL)) == [member]
    assert {version.phone for version in member.history.all()} == {"+8613800138000"}
    assert "under the primary key" in rotate("--check")


@pytest.mark.django_db
def test_rotation_reseals_history_rows_too(settings, two_keys):
    old, new = two_keys
    member = create_people()
    use_keys(settings, new, old)
    rotate()
    new_id = crypto.keys()[0].key_id
    history_table = Member.history.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone, email, birthday FROM {history_table} WHERE id = %s", [member.pk])  # noqa: S608
        tokens = [token for row in cursor.fetchall() for token in row]
    assert len(tokens) == 6
    assert all(token.split("$")[1] == new_id for token in tokens)


@pytest.mark.django_db
def test_rotation_fixes_the_lookup_hash_of_a_row_saved_after_the_key_change(settings, two_keys):
    """A save after the new key goes first re-seals the phone but keeps the old hash: rotation must fix it."""
    old, new = two_keys
    member = create_people()
    use_keys(settings, new, old)
    services.update_member(member=member, notes="re-saved under the new key")
    with pytest.raises(CommandError, match="lookup hashes are stale"):
        rotate("--check")
    rotate()
    use_keys(settings, new)
    assert list(Member.objects.with_phone(PHONE)) == [member]


@pytest.mark.django_db
def test_rotation_names_a_value_no_configured_key_can_open(settings, two_keys):
    old, new = two_keys
    member = create_people()
    use_keys(settings, new)
    with pytest.raises(CommandError, match=r"members\.\w*Member\.\w+ of row \d+ cannot be decrypted"):
        rotate()
    with pytest.raises(CommandError, match="put the missing key back"):
        rotate("--check")
    use_keys(settings, old)
    assert Member.objects.get(pk=member.pk).phone == "+8613800138000"  # nothing was changed
