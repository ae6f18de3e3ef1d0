"""Field encryption and lookup hashes for personal data.

Values are sealed with AES-256-GCM (``cryptography``'s AEAD) under the first key of
``FIELD_ENCRYPTION_KEY``; every key in that comma-separated list can still open values, so a
new key is put first, ``manage.py rotate_encryption_key`` re-seals every row, and the old key
is then dropped. A sealed value reads ``v1$<key id>$<base64 nonce+ciphertext>``: nothing of the
plaintext is visible in a database dump.

Exact lookups (phone, email) use an HMAC-SHA256 of the normalised value under a key derived
from each encryption key; a lookup asks for the hashes under all configured keys, so rows not
yet rotated are still found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "v1"


class DecryptionError(ValueError):
    """A sealed value could not be opened with any configured key."""


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    aead: AESGCM
    hash_key: bytes


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY holds a key that is not base64.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY keys must be 32 bytes, base64-encoded "
            "(`python manage.py generate_encryption_key` makes one)."
        )
    return raw


@lru_cache(maxsize=8)
def _keys_for(setting: str) -> tuple[FieldKey, ...]:
    keys = []
    for part in setting.split(","):
        if not part.strip():
            continue
        raw = _decode_key(part)
        key_id = hashlib.sha256(b"key-id" + raw).hexdigest()[:8]
        hash_key = hmac.new(raw, b"loyalty-crm lookup hash v1", hashlib.sha256).digest()
        keys.append(FieldKey(key_id=key_id, aead=AESGCM(raw), hash_key=hash_key))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    return tuple(keys)


def keys() -> tuple[FieldKey, ...]:
    return _keys_for(settings.FIELD_ENCRYPTION_KEY)


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def encrypt(plaintext: str) -> str:
    key = keys()[0]
    nonce = os.urandom(12)
    sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), PREFIX.encode("ascii"))
    return f"{PREFIX}${key.key_id}${base64.b64encode(nonce + sealed).decode('ascii')}"


def decrypt(token: str) -> str:
    try:
        prefix, key_id, body = token.split("$", 2)
    except ValueError as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    if prefix != PREFIX:
        raise DecryptionError(f"Unknown encryption format {prefix!r}.")
    for key in keys():
        if key.key_id == key_id:
            try:
                raw = base64.b64decode(body, validate=True)
                return key.aead.decrypt(raw[:12], raw[12:], PREFIX.encode("ascii")).decode("utf-8")
            except (InvalidTag, binascii.Error, ValueError) as exc:
                raise DecryptionError("The sealed value failed authentication (altered or corrupted).") from exc
    raise DecryptionError(f"No configured key has id {key_id}; was a key dropped too early?")


def is_sealed_with_primary(token: str) -> bool:
    return token.split("$", 2)[1:2] == [keys()[0].key_id]


def lookup_hash(normalised: str) -> str:
    """The hash stored beside a value, under the primary key."""
    return hmac.new(keys()[0].hash_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def lookup_hashes(normalised: str) -> list[str]:
    """Hashes of a value under every configured key, for `field__in` lookups during rotation."""
    return [hmac.new(key.hash_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest() for key in keys()]
