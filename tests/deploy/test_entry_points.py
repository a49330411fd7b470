"""A function deployed with --trigger-http still gets its trigger's body in the shape its handler takes.

Google starts every HTTP-triggered function with signature type "http"; a Pub/Sub row's handler
takes a CloudEvent, so main.py registers the row's signature for its target (functions-framework
lets a registered type win over the one it is started with).
"""
import base64
from pathlib import Path

from functions_framework import create_app

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "functions" / "main.py")


def test_a_pubsub_row_started_as_http_decodes_the_push(monkeypatch):
    from utalk.services import bot

    seen = []
    monkeypatch.setattr(bot, "dispatch", lambda *ids: seen.append(ids) or {})
    app = create_app("bot_dispatch", MAIN, "http")     # what an HTTP-triggered deploy passes
    attributes = {"workspaceId": "ws_1", "conversationId": "conv_1", "messageId": "msg_1"}
    push = {"message": {"data": base64.b64encode(b"{}").decode(), "messageId": "1", "attributes": attributes},
            "subscription": "projects/p/subscriptions/message-received--bot_dispatch"}
    resp = app.test_client().post("/", json=push)
    assert resp.status_code < 300, resp.data
    assert seen == [("ws_1", "conv_1", "msg_1")]


def test_an_http_row_stays_http():
    app = create_app("health", MAIN, "http")
    assert app.test_client().get("/health").status_code == 200
