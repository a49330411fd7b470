"""Channel credentials belong to the workspace: submitted once, sealed, never returned, rotatable.

A channel can no longer name the secret that verifies its webhooks (the old `authTokenRef` read
any environment variable); a live channel's webhooks verify only with the token its admin
submitted; the sealed record opens only for its own workspace and channel.
"""
from __future__ import annotations

import base64
import os
import uuid

from messaging_support import (INBOUND, Instance, conv_id, conversation_doc, db, inbound_form, messages,
                               new_number, ops, post_signed, wait_for, workspace)

from fakes.twilio_server import AUTH_TOKEN
from utalk.channels import sealing
from utalk.channels.credentials import SANDBOX_AUTH_TOKEN

CUSTOMER = "+5215512345678"


def secrets_doc(ws_id: str, channel_id: str):
    return db().collection("workspaces").document(ws_id).collection("channelSecrets").document(channel_id)


def live_channel(ws, twilio, token: str) -> tuple:
    """A live channel on a Twilio account of its own (whose token is `token`) holding a new number."""
    account, _ = twilio.add_account(token=token)
    number = new_number()
    twilio.add_sender(number, account_sid=account)
    r = ws.api.post("/api/v1/channels", json={"name": "Live", "phoneNumber": number, "provider": "twilio",
                                               "accountSid": account, "credentials": {"authToken": token}})
    return r, account


def signed_by(number: str, account: str, text: str = "hola", **extra) -> dict:
    return inbound_form(number, CUSTOMER, text, AccountSid=account, **extra)


def test_a_channel_cannot_name_a_secret_and_a_guessable_token_signs_nothing(api, twilio):
    ws = workspace(api, bot=False)
    # Old: `authTokenRef` named any environment variable of the function (another tenant's mounted
    # secret, or PATH whose value anyone can guess) and webhooks verified with its value.
    for ref in ("PATH", "TWILIO_AUTH_TOKEN", "OTHER_TENANT_TWILIO_TOKEN"):
        r = ws.api.post("/api/v1/channels", json={"name": "x", "phoneNumber": new_number(), "authTokenRef": ref})
        assert r.status_code == 422, (ref, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    # A live channel verifies only with the token its admin submitted: neither the public sandbox
    # token, nor a variable's value, nor nothing signs for it.
    token = uuid.uuid4().hex
    r, account = live_channel(ws, twilio, token)
    assert r.status_code == 201, r.text
    number = r.json()["address"]
    for guess in (SANDBOX_AUTH_TOKEN, os.environ["PATH"], ""):
        r = post_signed(api, INBOUND, signed_by(number, account), token=guess)
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature", guess
    assert not conversation_doc(ws.id, conv_id(CUSTOMER, number)).get().exists
    assert post_signed(api, INBOUND, signed_by(number, account), token=token).status_code == 200


def test_credentials_never_appear_in_responses_or_logs(api, twilio, stack):
    ws = workspace(api, bot=False)
    token, rotated = "tok" + uuid.uuid4().hex, "rot" + uuid.uuid4().hex
    created, account = live_channel(ws, twilio, token)
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["credentials"]["authToken"]["set"] is True and channel["credentials"]["authToken"]["rotatedAt"]
    assert "authTokenRef" not in channel
    twilio.set_token(account, rotated)
    path = f"/api/v1/channels/{channel['id']}"
    answers = [created,
               ws.api.get("/api/v1/channels"),
               ws.api.get(path),
               ws.api.put(path + "/credentials", json={"authToken": rotated}),
               ws.api.put(path + "/credentials", json={"authToken": token}),        # Twilio: 401 now
               ws.api.put(path + "/credentials", json={"authToken": "short " + token}),
               ws.api.post("/api/v1/channels", json={"name": "x", "phoneNumber": "bad", "provider": "twilio",
                                                      "credentials": {"authToken": token}})]
    assert [r.status_code for r in answers] == [201, 200, 200, 200, 422, 422, 422], [r.text for r in answers]
    for r in answers:
        assert token not in r.text and rotated not in r.text, r.text
    assert answers[4].json()["error"]["code"] == "invalid_credentials"
    listed = answers[1].json()["items"]
    assert listed[-1]["credentials"]["authToken"]["set"] is True
    assert answers[3].json()["credentials"]["authToken"]["rotatedAt"] > channel["credentials"]["authToken"]["rotatedAt"]
    # Stored sealed: not in the channel document, not in plain text in the secrets record.
    stored = db().collection("workspaces").document(ws.id).collection("channels").document(channel["id"]).get()
    assert token not in str(stored.to_dict()) and rotated not in str(stored.to_dict())
    sealed = repr(secrets_doc(ws.id, channel["id"]).get().to_dict())
    assert "dataKey" in sealed and rotated not in sealed and token not in sealed
    log = (stack.state_dir / "gateway.log").read_text(errors="replace")
    assert f"/api/v1/channels/{channel['id']}/credentials" in log   # the requests were logged...
    assert token not in log and rotated not in log                   # ...without their secrets


def test_rotation_new_token_passes_old_token_fails(api, twilio):
    """No instance has this number's route cached (nothing was sent to it before the rotation), so
    every gateway worker reads the rotated credentials on its first webhook."""
    ws = workspace(api, bot=False)
    old, new = uuid.uuid4().hex, uuid.uuid4().hex
    r, account = live_channel(ws, twilio, old)
    channel = r.json()
    twilio.set_token(account, new)
    r = ws.api.put(f"/api/v1/channels/{channel['id']}/credentials", json={"authToken": new})
    assert r.status_code == 200, r.text
    number = channel["address"]
    assert post_signed(api, INBOUND, signed_by(number, account), token=old).status_code == 403
    assert post_signed(api, INBOUND, signed_by(number, account, "nuevo"), token=new).status_code == 200
    assert [m["text"] for m in messages(ws.id, conv_id(CUSTOMER, number))] == ["nuevo"]


def test_rotation_reaches_an_instance_that_cached_the_old_token(api, twilio):
    """An instance holding the old credentials (cached with the route) keeps accepting the old token
    until its entry is refreshed. The first webhook signed with the new token that fails there makes
    it re-read (at most once a second per number), so the new token works at once and the old one
    stops there; other instances stop it within the cache TTL."""
    ws = workspace(api, bot=False)
    old, new = uuid.uuid4().hex, uuid.uuid4().hex
    r, account = live_channel(ws, twilio, old)
    channel = r.json()
    number = channel["address"]
    instance = Instance(api)
    assert instance.post_signed(INBOUND, signed_by(number, account, "antes"), token=old).status_code == 200
    twilio.set_token(account, new)
    assert ws.api.put(f"/api/v1/channels/{channel['id']}/credentials", json={"authToken": new}).status_code == 200
    # Still cached here: the old token passes (documented: up to UTALK_ROUTE_CACHE_SECONDS).
    assert instance.post_signed(INBOUND, signed_by(number, account, "viejo"), token=old).status_code == 200
    once = signed_by(number, account, "nuevo", sid="SM" + "7" * 32)
    wait_for(lambda: instance.post_signed(INBOUND, once, token=new).status_code == 200, timeout=10)
    assert instance.post_signed(INBOUND, signed_by(number, account, "tarde"), token=old).status_code == 403
    texts = sorted(m["text"] for m in messages(ws.id, conv_id(CUSTOMER, number)))
    assert texts == ["antes", "nuevo", "viejo"]


def test_a_sealed_record_copied_to_another_channel_does_not_open(api, twilio):
    ws_a, ws_b = workspace(api, bot=False), workspace(api, bot=False)
    token_a = uuid.uuid4().hex
    (r, account), (second, second_account), (other, other_account) = (
        live_channel(ws_a, twilio, token_a), live_channel(ws_a, twilio, uuid.uuid4().hex),
        live_channel(ws_b, twilio, uuid.uuid4().hex))
    channel_a, second_a, channel_b = r.json(), second.json(), other.json()
    record = secrets_doc(ws_a.id, channel_a["id"]).get().to_dict()
    # Someone with write access to the database pastes A's sealed token over other channels'.
    secrets_doc(ws_b.id, channel_b["id"]).set(record)
    secrets_doc(ws_a.id, second_a["id"]).set(record)
    for ws, channel, acct in ((ws_b, channel_b, other_account), (ws_a, second_a, second_account)):
        r = post_signed(api, INBOUND, signed_by(channel["address"], acct), token=token_a)
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
        assert not conversation_doc(ws.id, conv_id(CUSTOMER, channel["address"])).get().exists
    # Where it belongs, it opens.
    assert post_signed(api, INBOUND, signed_by(channel_a["address"], account), token=token_a).status_code == 200


def test_sandbox_channels_use_the_local_sandbox_token_unless_given_one(api):
    ws = workspace(api, bot=False)
    assert ws.channel["provider"] == "sandbox" and ws.channel["credentials"]["authToken"]["set"] is True
    assert post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER), token=AUTH_TOKEN).status_code == 200
    own = uuid.uuid4().hex
    r = ws.api.post("/api/v1/channels", json={"name": "b", "phoneNumber": new_number(), "provider": "sandbox",
                                               "credentials": {"authToken": own}})
    assert r.status_code == 201, r.text
    assert post_signed(api, INBOUND, inbound_form(r.json()["address"], CUSTOMER), token=AUTH_TOKEN).status_code == 403
    assert post_signed(api, INBOUND, inbound_form(r.json()["address"], CUSTOMER), token=own).status_code == 200


def test_rewrap_moves_every_record_to_a_new_platform_key(api, twilio):
    """The platform key rotation (docs/security.md): new key current, old one previous, re-wrap."""
    ws = workspace(api, twilio=twilio, bot=False)
    new = os.urandom(32)
    b64 = lambda key: base64.b64encode(key).decode()  # noqa: E731
    keys = {"UTALK_CREDENTIALS_KEY": b64(new), "UTALK_CREDENTIALS_KEY_PREVIOUS": b64(sealing.DEVELOPMENT_KEY)}
    assert ops("rewrap-credentials", "--dry-run", **keys).returncode == 0
    assert secrets_doc(ws.id, ws.channel["id"]).get().get("kid") == sealing.key_id(sealing.DEVELOPMENT_KEY)
    done = ops("rewrap-credentials", **keys)
    assert done.returncode == 0 and '"rewrapped": 1' in done.stdout and '"failed": 0' in done.stdout, done.stdout
    record = secrets_doc(ws.id, ws.channel["id"]).get().to_dict()
    assert record["kid"] == sealing.key_id(new)
    assert sealing.unseal(ws.id, ws.channel["id"], record, sealing.Keyring(new)) == {"authToken": AUTH_TOKEN}
    # Without the old key, a record it wrapped does not open: the CLI says so and changes nothing.
    other = workspace(api, bot=False)
    done = ops("rewrap-credentials", UTALK_CREDENTIALS_KEY=b64(os.urandom(32)))
    assert '"failed": 2' in done.stdout, done.stdout
    assert secrets_doc(other.id, other.channel["id"]).get().get("kid") == sealing.key_id(sealing.DEVELOPMENT_KEY)
