"""Helpers for the web chat tests: a workspace with a web channel made through the channels API,
and visitors talking to the visitor API over HTTP as the widget does (Origin header included)."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import helpers
from messaging_support import db

SHOP = "https://shop.example.com"
IDENTITY_SECRET = "shop-identity-secret-0123456789abcdef"


@dataclass
class WebChat:
    ws: str
    api: object           # Api with the admin's token
    channel: dict

    @property
    def key(self) -> str:
        return self.channel["channelKey"]

    def path(self, route: str) -> str:
        return f"/api/v1/webchat/{self.key}/{route}"


def web_channel(api, bot: bool = False, identity: bool = False, origins: tuple[str, ...] = (),
                **settings) -> WebChat:
    admin = helpers.new_admin()
    changes = {f"settings.{k}": v for k, v in settings.items()}
    if not bot:
        changes["settings.bot.enabled"] = False
    if changes:
        db().collection("workspaces").document(admin["workspaceId"]).update(changes)
    authed = api.with_token(helpers.login(api, admin["email"])["token"])
    body = {"type": "web", "name": "Tienda web", "allowedOrigins": list(origins) or [SHOP, "http://localhost:8000"],
            "widget": {"title": "Tienda Luna", "greeting": "¡Hola! ¿En qué te ayudamos?"}}
    if identity:
        body["credentials"] = {"identitySecret": IDENTITY_SECRET}
    r = authed.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return WebChat(admin["workspaceId"], authed, r.json())


def identifier_hash(identifier: str, secret: str = IDENTITY_SECRET) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


class Visitor:
    """One visitor's calls, with its token and the shop's Origin."""

    def __init__(self, api, chat: WebChat, session: dict, origin: str = SHOP):
        self.api, self.chat, self.session, self.origin = api, chat, session, origin

    @classmethod
    def open(cls, api, chat: WebChat, body: dict | None = None, origin: str = SHOP, **headers) -> "Visitor":
        r = open_session(api, chat, body, origin, **headers)
        assert r.status_code == 201, r.text
        return cls(api, chat, r.json(), origin)

    @property
    def conversation_id(self) -> str:
        return self.session["conversationId"]

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.session['token']}", "Origin": self.origin}

    def say(self, text: str, message_id: str | None = None):
        return self.api.post(self.chat.path("messages"), headers=self.headers(),
                             json={"messageId": message_id or str(uuid.uuid4()), "text": text})

    def history(self, **params):
        return self.api.get(self.chat.path("messages"), headers=self.headers(), params=params)


def open_session(api, chat: WebChat, body: dict | None = None, origin: str | None = SHOP, **headers):
    headers = {**({"Origin": origin} if origin else {}), **headers}
    return api.post(chat.path("sessions"), json=body or {}, headers=headers)
