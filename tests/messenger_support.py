"""Helpers for the Messenger tests: a workspace with a Facebook Page channel (live against the fake
Graph API, or on the sandbox), and Meta's webhooks exactly as Meta sends them: JSON bodies signed
over their raw bytes with the app secret (`X-Hub-Signature-256`)."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import helpers
from fakes.graph_server import APP_ID, APP_SECRET, VERIFY_TOKEN
from messaging_support import db

WEBHOOK = "/webhooks/messenger"
SANDBOX_APP_ID = "100000000000000"


@dataclass
class Page:
    ws: str
    api: object           # Api with the admin's token
    channel: dict
    page_id: str
    app_secret: str
    app_id: str
    verify_token: str


def page_channel(api, graph=None, bot: bool = False, **settings) -> Page:
    """A workspace with an admin and a Facebook Page channel. Given the fake Graph API, a live
    Messenger channel whose page token, app and app secret the fake knows (channel creation asks it
    to prove the Page); else a sandbox channel with the sandbox's credentials."""
    admin = helpers.new_admin()
    changes = {f"settings.{k}": v for k, v in settings.items()}
    if not bot:
        changes["settings.bot.enabled"] = False
    if changes:
        db().collection("workspaces").document(admin["workspaceId"]).update(changes)
    authed = api.with_token(helpers.login(api, admin["email"])["token"])
    if graph is not None:
        page = graph.add_page()
        verify = f"{VERIFY_TOKEN}-{uuid.uuid4().hex[:8]}"
        body = {"type": "facebook", "name": "Tienda", "pageId": page.id, "provider": "messenger", "appId": APP_ID,
                "credentials": {"pageToken": page.token, "appSecret": APP_SECRET, "verifyToken": verify}}
        secret, app_id, page_id = APP_SECRET, APP_ID, page.id
    else:
        from utalk.channels.credentials import SANDBOX_MESSENGER
        page_id = str(100000000000000 + uuid.uuid4().int % 10**14)
        body = {"type": "facebook", "name": "Tienda", "pageId": page_id, "provider": "sandbox"}
        secret, app_id, verify = SANDBOX_MESSENGER["appSecret"], SANDBOX_APP_ID, SANDBOX_MESSENGER["verifyToken"]
    r = authed.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return Page(admin["workspaceId"], authed, r.json(), page_id, secret, app_id, verify)


def psid() -> str:
    return str(6000000000000000 + uuid.uuid4().int % 10**15)


def now_ms() -> int:
    return int(time.time() * 1000)


def message(psid_: str, page_id: str, text: str | None = "hola", mid: str | None = None, **fields) -> dict:
    """A `messaging` item of a customer's message (fields go into `message`)."""
    body = {"mid": mid or "m_" + uuid.uuid4().hex, **({"text": text} if text is not None else {}), **fields}
    return {"sender": {"id": psid_}, "recipient": {"id": page_id}, "timestamp": now_ms(), "message": body}


def echo(psid_: str, page_id: str, app_id: str, text: str = "respuesta", mid: str | None = None) -> dict:
    return {"sender": {"id": page_id}, "recipient": {"id": psid_}, "timestamp": now_ms(),
            "message": {"mid": mid or "m_" + uuid.uuid4().hex, "is_echo": True, "app_id": int(app_id), "text": text}}


def watermark(psid_: str, page_id: str, kind: str, at_ms: int) -> dict:
    return {"sender": {"id": psid_}, "recipient": {"id": page_id}, "timestamp": at_ms,
            kind: {"watermark": at_ms, **({"mids": []} if kind == "delivery" else {})}}


def body(*entries: tuple[str, list[dict]]) -> dict:
    """An event notification: one entry per (page id, messaging items)."""
    return {"object": "page", "entry": [{"id": page_id, "time": now_ms(), "messaging": items}
                                        for page_id, items in entries]}


def sign(raw: bytes, secret: str) -> str:
    from utalk.channels.messenger import signature_of
    return signature_of(secret, raw)


def post(api, payload: dict | bytes, secret: str | None, signature: str | None = None):
    """POST a notification; `payload` a dict (serialised here) or the exact raw bytes to send."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    sig = signature if signature is not None else (sign(raw, secret) if secret else None)
    if sig is not None:
        headers["X-Hub-Signature-256"] = sig
    return api.session.post(api.base + WEBHOOK, data=raw, headers=headers, timeout=30)


def notify(api, page: Page, *items: dict):
    """One signed notification with `items` for `page` (one entry), as Meta posts it."""
    return post(api, body((page.page_id, list(items))), page.app_secret)


def conv_id(psid_: str, page_id: str) -> str:
    return f"conv_fb:{psid_}_fb:{page_id}"
