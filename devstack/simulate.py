"""Plays a customer against the local stack: a signed inbound webhook, as the provider sends it.

    .venv/bin/python -m devstack.simulate "hola, necesito ayuda" [--from +5215512345678] [--token T]
    .venv/bin/python -m devstack.simulate --channel messenger "hola" [--from 6000000000000001] [--token S]

WhatsApp is signed with the demo channel's Twilio token (the local sandbox token unless --token
gives the one its admin submitted: a live Twilio demo channel's TWILIO_AUTH_TOKEN); Messenger with
the demo Page's app secret (the sandbox's unless --token gives it: MESSENGER_APP_SECRET).

With the offline bot the reply comes back through the sandbox channel within a moment; read the
conversation with GET /api/v1/conversations as the demo admin.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

import requests
from twilio.request_validator import RequestValidator

from devstack.seed import DEMO_NUMBER, DEMO_PAGE_ID
from devstack.stack import Stack

PATH = "/webhooks/twilio/whatsapp"
MESSENGER_PATH = "/webhooks/messenger"
CUSTOMERS = {"whatsapp": "+5215512345678", "messenger": "6000000000000001"}


def send(base_url: str, text: str, customer: str, to: str = DEMO_NUMBER, public_base: str | None = None,
         auth_token: str | None = None) -> requests.Response:
    from utalk.channels.credentials import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    account = os.environ.get("TWILIO_ACCOUNT_SID", SANDBOX_ACCOUNT_SID)
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": account, "From": f"whatsapp:{customer}",
            "To": f"whatsapp:{to}", "Body": text, "NumMedia": "0", "NumSegments": "1", "ProfileName": "Cliente demo",
            "WaId": customer.lstrip("+")}
    # Signed for the URL the webhook is configured with, exactly as Twilio signs it.
    signature = RequestValidator(auth_token or SANDBOX_AUTH_TOKEN).compute_signature(
        (public_base or base_url).rstrip("/") + PATH, form)
    return requests.post(base_url.rstrip("/") + PATH, data=form, headers={"X-Twilio-Signature": signature},
                         timeout=30)


def send_messenger(base_url: str, text: str, psid: str, page_id: str = DEMO_PAGE_ID,
                   app_secret: str | None = None) -> requests.Response:
    """A Messenger customer's message, as Meta posts it: signed over the raw body with the app secret."""
    from utalk.channels.credentials import SANDBOX_MESSENGER
    from utalk.channels.messenger import signature_of

    now = int(time.time() * 1000)
    raw = json.dumps({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": now,
        "message": {"mid": "m_" + uuid.uuid4().hex, "text": text}}]}]}).encode()
    signature = signature_of(app_secret or SANDBOX_MESSENGER["appSecret"], raw)
    return requests.post(base_url.rstrip("/") + MESSENGER_PATH, data=raw, timeout=30,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text")
    ap.add_argument("--channel", choices=("whatsapp", "messenger"), default="whatsapp")
    ap.add_argument("--from", dest="customer", help="the customer: a phone number, or a Messenger PSID")
    ap.add_argument("--token", help="WhatsApp: the channel's auth token; Messenger: the app secret")
    args = ap.parse_args()
    stack = Stack()
    stack.apply_env()
    base = f"http://127.0.0.1:{stack.ports.gateway}"
    customer = args.customer or CUSTOMERS[args.channel]
    if args.channel == "messenger":
        r = send_messenger(base, args.text, customer, app_secret=args.token or os.environ.get("MESSENGER_APP_SECRET"))
    else:
        r = send(base, args.text, customer, public_base=os.environ.get("UTALK_PUBLIC_BASE_URL"),
                 auth_token=args.token or os.environ.get("TWILIO_AUTH_TOKEN"))
    print(f"{r.status_code} {r.text[:200]}")
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
