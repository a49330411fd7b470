"""Channel credentials sealed at rest: AES-GCM envelope encryption under the platform key.

A sealed record holds a random 256-bit data key, wrapped (AES-GCM) by the platform key
`UTALK_CREDENTIALS_KEY`, and each named field (authToken, pageToken, ...) encrypted (AES-GCM) with
that data key. The associated data binds every ciphertext to its place: the wrapped key to its
workspace, channel and platform key id, each field to its workspace, channel and field name. A
record copied to another channel or workspace, or a field moved to another name, does not open.

The key id (a hash of the platform key) says which platform key wrapped a record. To rotate the
platform key, deploy the new key as UTALK_CREDENTIALS_KEY with the old one in
UTALK_CREDENTIALS_KEY_PREVIOUS (comma-separated), run `scripts/ops rewrap-credentials`, then drop
the old key. Local/test without a key use a fixed development key; anywhere else there is no
default: without the key nothing opens (ConfigError), and the development key is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from utalk.config import ConfigError, Settings, decode_key, settings

VERSION = 1
_NONCE_BYTES = 12
# Public on purpose (it is in the source): it protects nothing but local and test data.
DEVELOPMENT_KEY = hashlib.sha256(b"utalk local development credentials key; never used in production").digest()


class Unsealable(Exception):
    """A record that does not open here: another binding, tampered, or wrapped by an unknown key."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"utalk.credentials.kid\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The platform key that seals, and the previous ones that still open older records."""
    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def kid(self) -> str:
        return key_id(self.current)

    def key(self, kid: str) -> bytes:
        for key in (self.current, *self.previous):
            if key_id(key) == kid:
                return key
        raise Unsealable(f"no platform key with id {kid!r} is configured")


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return keyring_for(settings(), os.environ.get("UTALK_CREDENTIALS_KEY_PREVIOUS", ""))


def keyring_for(conf: Settings, previous: str = "") -> Keyring:
    """The keyring these settings give (`previous`: comma-separated base64 keys)."""
    current = conf.credentials_key
    if current is None:
        if not conf.is_local:
            raise ConfigError("UTALK_CREDENTIALS_KEY is required outside local/test environments")
        current = DEVELOPMENT_KEY
    elif current == DEVELOPMENT_KEY and not conf.is_local:
        raise ConfigError("UTALK_CREDENTIALS_KEY is the public development key")
    return Keyring(current, tuple(k for part in previous.split(",")
                                  if (k := decode_key("UTALK_CREDENTIALS_KEY_PREVIOUS", part))))


def _aad(*parts: str) -> bytes:
    # JSON keeps the parts unambiguous whatever characters the ids hold.
    return json.dumps(["utalk.channelSecret", VERSION, *parts]).encode()


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, blob, aad: bytes) -> bytes:
    try:
        blob = bytes(blob)
        return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
    except (InvalidTag, TypeError, ValueError):
        raise Unsealable("sealed value does not open for this workspace, channel and field") from None


def seal(workspace_id: str, channel_id: str, fields: Mapping[str, str], ring: Keyring | None = None) -> dict:
    """A sealed record of `fields` (name -> value), bound to this workspace and channel."""
    ring = ring or keyring()
    data_key = AESGCM.generate_key(bit_length=256)
    return {"v": VERSION, "kid": ring.kid,
            "dataKey": _encrypt(ring.current, data_key, _aad("dataKey", workspace_id, channel_id, ring.kid)),
            "fields": {name: _encrypt(data_key, value.encode(), _aad("field", workspace_id, channel_id, name))
                       for name, value in fields.items()}}


def _data_key(workspace_id: str, channel_id: str, record: Mapping, ring: Keyring) -> bytes:
    if not isinstance(record, Mapping) or record.get("v") != VERSION:
        raise Unsealable("not a sealed record of a known version")
    kid = str(record.get("kid"))
    return _decrypt(ring.key(kid), record.get("dataKey"), _aad("dataKey", workspace_id, channel_id, kid))


def unseal(workspace_id: str, channel_id: str, record: Mapping, ring: Keyring | None = None) -> dict[str, str]:
    """The fields of a record sealed for this workspace and channel; Unsealable otherwise."""
    ring = ring or keyring()
    data_key = _data_key(workspace_id, channel_id, record, ring)
    fields = record.get("fields")
    if not isinstance(fields, Mapping):
        raise Unsealable("record has no fields")
    try:
        return {name: _decrypt(data_key, blob, _aad("field", workspace_id, channel_id, name)).decode()
                for name, blob in fields.items()}
    except UnicodeDecodeError:
        raise Unsealable("sealed value is not text") from None


def rewrap(workspace_id: str, channel_id: str, record: Mapping, ring: Keyring | None = None) -> dict | None:
    """The record with its data key wrapped by the current platform key (fields untouched), or
    None when it already is."""
    ring = ring or keyring()
    if record.get("kid") == ring.kid:
        return None
    data_key = _data_key(workspace_id, channel_id, record, ring)
    return {**record, "kid": ring.kid,
            "dataKey": _encrypt(ring.current, data_key, _aad("dataKey", workspace_id, channel_id, ring.kid))}
