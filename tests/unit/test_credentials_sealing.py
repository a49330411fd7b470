"""Sealed channel credentials: they open only where they were sealed, survive a platform key
rotation, and nothing opens (or is accepted) outside local/test without the platform key."""
from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from utalk.channels import credentials, sealing
from utalk import errors
from utalk.config import ConfigError, settings

KEY_A, KEY_B = os.urandom(32), os.urandom(32)
RING_A = sealing.Keyring(KEY_A)


def _production(key: bytes | None):
    return dataclasses.replace(settings(), env="production", credentials_key=key)


def test_a_record_opens_only_for_its_workspace_and_channel():
    record = sealing.seal("ws_a", "ch_1", {"authToken": "secret-token-0123456789"}, RING_A)
    assert b"secret-token" not in repr(record).encode()
    assert sealing.unseal("ws_a", "ch_1", record, RING_A) == {"authToken": "secret-token-0123456789"}
    for ws, ch in (("ws_b", "ch_1"), ("ws_a", "ch_2"), ("ws_a:ch", "1")):
        with pytest.raises(sealing.Unsealable):
            sealing.unseal(ws, ch, record, RING_A)


def test_a_field_moved_to_another_name_or_tampered_does_not_open():
    record = sealing.seal("ws", "ch", {"authToken": "a" * 20, "appSecret": "b" * 20}, RING_A)
    swapped = {**record, "fields": {"authToken": record["fields"]["appSecret"]}}
    with pytest.raises(sealing.Unsealable):
        sealing.unseal("ws", "ch", swapped, RING_A)
    blob = bytearray(record["fields"]["authToken"])
    blob[-1] ^= 1
    with pytest.raises(sealing.Unsealable):
        sealing.unseal("ws", "ch", {**record, "fields": {"authToken": bytes(blob)}}, RING_A)
    with pytest.raises(sealing.Unsealable):
        sealing.unseal("ws", "ch", {**record, "v": 99}, RING_A)


def test_each_record_has_its_own_data_key():
    one, two = (sealing.seal("ws", "ch", {"authToken": "a" * 20}, RING_A) for _ in range(2))
    assert one["dataKey"] != two["dataKey"] and one["fields"] != two["fields"]


def test_platform_key_rotation_with_the_previous_key_then_rewrap():
    record = sealing.seal("ws", "ch", {"authToken": "t" * 32}, RING_A)
    rotated = sealing.Keyring(KEY_B, previous=(KEY_A,))
    assert sealing.unseal("ws", "ch", record, rotated) == {"authToken": "t" * 32}   # old records still open
    rewrapped = sealing.rewrap("ws", "ch", record, rotated)
    assert rewrapped["kid"] == rotated.kid != record["kid"] and rewrapped["fields"] == record["fields"]
    assert sealing.rewrap("ws", "ch", rewrapped, rotated) is None
    only_b = sealing.Keyring(KEY_B)
    assert sealing.unseal("ws", "ch", rewrapped, only_b) == {"authToken": "t" * 32}
    with pytest.raises(sealing.Unsealable):
        sealing.unseal("ws", "ch", record, only_b)      # the old key dropped too early


def test_keys_outside_local_fail_closed():
    with pytest.raises(ConfigError):
        sealing.keyring_for(_production(None))
    with pytest.raises(ConfigError):
        sealing.keyring_for(_production(sealing.DEVELOPMENT_KEY))
    ring = sealing.keyring_for(_production(KEY_B), "," + base64.b64encode(KEY_A).decode())
    assert ring.current == KEY_B and ring.previous == (KEY_A,)
    assert sealing.keyring_for(dataclasses.replace(settings(), credentials_key=None)).current == \
        sealing.DEVELOPMENT_KEY   # local/test: the fixed development key


def test_sandbox_and_the_fake_twilio_exist_only_locally(monkeypatch):
    production = _production(KEY_A)
    with pytest.raises(errors.ValidationFailed) as refused:
        credentials.check_provider("sandbox", production)
    assert refused.value.code == "provider_not_allowed"
    credentials.check_provider("twilio", production)
    record = sealing.seal("ws", "ch", credentials.SANDBOX_DEFAULTS)
    assert credentials.opened("ws", "ch", "sandbox", record) == credentials.SANDBOX_DEFAULTS
    assert credentials.opened("ws", "ch", "sandbox", record, production) is None
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:1")   # an environment, not our code
    with pytest.raises(ConfigError):
        credentials.twilio_api_base_url(production)


def test_opened_credentials_are_never_printed():
    creds = credentials.Credentials({"authToken": "do-not-print-me-0123"})
    assert "do-not-print" not in repr(creds) and "do-not-print" not in str(creds) and creds["authToken"]
