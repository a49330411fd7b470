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


def test_a_pubsub_row_started_as_http_decodes_the_push(capsys):
    app = create_app("bot_dispatch", MAIN, "http")     # what an HTTP-triggered deploy passes
    push = {"message": {"data": base64.b64encode(b"{}").decode(), "messageId": "1", "attributes": {}},
            "subscription": "projects/p/subscriptions/message-received--bot_dispatch"}
    resp = app.test_client().post("/", json=push)
    logged = capsys.readouterr().out            # utalk logs JSON lines on stdout
    assert resp.status_code < 300, resp.data
    assert "without workspaceId" in logged, logged   # decoded, then judged on its attributes
    assert "undecodable" not in logged, logged


def test_an_http_row_stays_http():
    app = create_app("health", MAIN, "http")
    assert app.test_client().get("/health").status_code == 200
