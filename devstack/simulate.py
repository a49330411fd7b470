"""Plays a WhatsApp customer against the local stack: a signed inbound webhook, as Twilio sends it.

    .venv/bin/python -m devstack.simulate "hola, necesito ayuda" [--from +5215512345678] [--token T]

Signed with the demo channel's token: the local sandbox token unless --token gives the one its
admin submitted (a live Twilio demo channel: TWILIO_AUTH_TOKEN).

With the offline bot the reply comes back through the sandbox channel within a moment; read the
conversation with GET /api/v1/conversations as the demo admin.
"""
from __future__ import annotations

import argparse
import os
import sys
import uuid

import requests
from twilio.request_validator import RequestValidator

from devstack.seed import DEMO_NUMBER
from devstack.stack import Stack

PATH = "/webhooks/twilio/whatsapp"


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text")
    ap.add_argument("--from", dest="customer", default="+5215512345678")
    ap.add_argument("--token", default=os.environ.get("TWILIO_AUTH_TOKEN"), help="the channel's auth token")
    args = ap.parse_args()
    stack = Stack()
    stack.apply_env()
    base = f"http://127.0.0.1:{stack.ports.gateway}"
    r = send(base, args.text, args.customer, public_base=os.environ.get("UTALK_PUBLIC_BASE_URL"),
             auth_token=args.token)
    print(f"{r.status_code} {r.text[:200]}")
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
