"""Helpers for the messaging tests: a logged-in workspace with a WhatsApp channel, signed Twilio
webhooks exactly as Twilio sends them, and bounded polling of Firestore for async effects."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from twilio.request_validator import RequestValidator

import helpers
from fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN

BUSINESS = "+14155238886"
INBOUND = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"


@dataclass
class Workspace:
    id: str
    api: object           # Api with the admin's token
    admin: dict
    channel: dict
    number: str


def workspace(api, number: str | None = None, bot: bool = True, twilio=None) -> Workspace:
    """A workspace with an admin and a WhatsApp channel. Messaging tests pass bot=False so the bot's
    own replies (issue 4) do not mix with the messages they send.

    The channel is on the offline sandbox provider; given the fake Twilio, it is a live Twilio channel
    instead, whose number the fake's default account holds as an ONLINE WhatsApp sender (the proof
    channel creation asks Twilio for), with that account's token submitted as its credentials."""
    admin = helpers.new_admin()
    if not bot:
        db().collection("workspaces").document(admin["workspaceId"]).update({"settings.bot.enabled": False})
    token = helpers.login(api, admin["email"])["token"]
    authed = api.with_token(token)
    number = number or new_number()
    body = {"name": "Ventas", "phoneNumber": number, "provider": "sandbox"}
    if twilio is not None:
        twilio.add_sender(number)
        body.update(provider="twilio", accountSid=ACCOUNT_SID, credentials={"authToken": AUTH_TOKEN})
    r = authed.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return Workspace(admin["workspaceId"], authed, admin, r.json(), number)


def new_number() -> str:
    return "+1415" + str(uuid.uuid4().int)[:7]


def agent(ws: Workspace, api) -> object:
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    r = ws.api.post("/api/v1/users", json={"email": email, "name": "Ana", "password": helpers.PASSWORD,
                                           "role": "agent"})
    assert r.status_code == 201, r.text
    return api.with_token(helpers.login(api, email)["token"]), r.json()["id"]


def sign(api, path: str, form: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(api.base + path, form)


def inbound_form(to: str, customer: str = "+5215512345678", body: str = "hola", sid: str | None = None,
                 **extra) -> dict:
    return {"MessageSid": sid or "SM" + uuid.uuid4().hex, "SmsMessageSid": sid or "", "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{customer}", "To": f"whatsapp:{to}", "Body": body, "NumMedia": "0",
            "NumSegments": "1", "ProfileName": "Cliente", "WaId": customer.lstrip("+"), "ApiVersion": "2010-04-01",
            **extra}


def post_signed(api, path: str, form: dict, token: str = AUTH_TOKEN, signature: str | None = None):
    sig = signature if signature is not None else sign(api, path, form, token)
    return api.session.post(api.base + path, data=form, headers={"X-Twilio-Signature": sig}, timeout=30)


def conv_id(customer: str, business: str) -> str:
    a, b = sorted((customer, business))
    return f"conv_{a}_{b}"


def db():
    from utalk import clients
    return clients.firestore()


def conversation_doc(ws_id: str, conv: str):
    return db().collection("workspaces").document(ws_id).collection("conversations").document(conv)


def messages(ws_id: str, conv: str) -> list[dict]:
    return [d.to_dict() for d in conversation_doc(ws_id, conv).collection("messages").stream()]


def wait_for(predicate, timeout: float = 45.0, interval: float = 0.1):
    """Poll until predicate() is truthy (returns it) or fail after a bounded deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


class Instance:
    """Another instance of a webhook function, served in this test process by functions-framework.

    Its per-instance caches (the route and credentials cache) are this process's, so a test can
    hold a route cached here that the gateway's workers never saw, and `forget()` is what the cache
    TTL does to it."""

    def __init__(self, api, function: str = "twilio_inbound"):
        from devstack.gateway import function_app

        self.api, self.client = api, function_app(function).test_client()

    def post_signed(self, path: str, form: dict, token: str = AUTH_TOKEN):
        sig = sign(self.api, path, form, token)
        return self.client.post(path, data=form, headers={"X-Twilio-Signature": sig})

    @staticmethod
    def forget() -> None:
        from utalk.channels import routes

        routes.forget()


def ops(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The operator CLI (`scripts/ops`, i.e. `python -m utalk.ops`) against the test stack."""
    return subprocess.run([sys.executable, "-m", "utalk.ops", *args], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
