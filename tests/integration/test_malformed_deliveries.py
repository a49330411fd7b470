"""Malformed task and push bodies on every internal function of the manifest: what can never
succeed is acknowledged (2xx: Cloud Tasks would retry it max_attempts times, Pub/Sub forever),
logged with a `dropped` reason (what a log-based metric counts), and writes nothing. The caller is
legitimate (a good OIDC token): this is our own code or data gone wrong, not an attacker."""
from __future__ import annotations

import base64
import json

import pytest

from helpers import call_internal
from internal_support import INTERNAL, push_body, snapshot
from messaging_support import workspace

NESTED = [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000]


def garbage(ws: str) -> list[bytes]:
    """Bodies no internal function can ever process (`ws` is a real workspace, to catch writes)."""
    ids = [{"workspaceId": f"{ws}/x", "conversationId": "c", "messageId": "m"},
           {"workspaceId": ws, "conversationId": "a/b", "messageId": "../m"},
           {"workspaceId": ws, "conversationId": "__name__", "messageId": "."},
           {"workspaceId": ws, "conversationId": "", "messageId": ""},
           {"workspaceId": ws, "conversationId": "c" * 100_000, "messageId": "m"},
           {"workspaceId": 5, "conversationId": ["c"], "messageId": {"m": 1}},
           {"workspaceId": None},
           {"workspaceId": ws, "conversationId": "c", "messageId": "m", "extra": "field"},
           {"workspaceId": ws, "cursor": 5, "pageSize": -1, "runId": "a/b"}]
    raw = [*NESTED, b"", b"null", b"[]", b'"text"', b"123", b"{", b"\xff\xfe\x00", b"{}", b"x" * 2_000_000]
    return raw + [json.dumps(body).encode() for body in ids]


def pushes(ws: str) -> list[bytes]:
    """Push bodies Pub/Sub itself would never send, or whose message can never be processed."""
    ids = {"workspaceId": ws, "conversationId": "c", "messageId": "m"}
    bodies = [
        {"message": "not an object"}, {"message": {"data": "%%% not base64 %%%", "attributes": ids}},
        {"message": {"data": 5, "attributes": ids}}, {"message": {"data": "", "attributes": "ids"}},
        {"message": {"data": "", "attributes": {"workspaceId": 5}}}, {"message": {"data": "", "messageId": [1]}},
        {"message": {"data": ""}},                                             # attributes missing
        {"message": {"data": "", "attributes": {**ids, "workspaceId": f"{ws}/x"}}},
        {"message": {"data": "", "attributes": {**ids, "conversationId": "x" * 2000}}},
        {"message": {"data": "", "attributes": {f"k{i}": "v" for i in range(500)}}},
        {"message": {"data": base64.b64encode(NESTED[0]).decode(), "attributes": {"workspaceId": ws}}},
        push_body({**ids, "messageId": "__m__"}),
    ]
    return [json.dumps(b).encode() for b in bodies] + [b'{"message":' * 10_000 + b"{}" + b"}" * 10_000]


@pytest.mark.parametrize("name", [fn.name for fn in INTERNAL])
def test_malformed_bodies_are_acknowledged_logged_and_write_nothing(api, stack, name):
    ws = workspace(api)
    before = snapshot(ws.id)
    log = stack.state_dir / "gateway.log"
    logged = log.stat().st_size
    fn = next(f for f in INTERNAL if f.name == name)
    bodies = garbage(ws.id) + (pushes(ws.id) if fn.topic else [])
    answers = []
    for body in bodies:
        r = call_internal(api, name, data=body, headers={"Content-Type": "application/json"})
        answers.append(r.json())
        assert 200 <= r.status_code < 300, (body[:80], r.status_code, r.text[:300])
    assert snapshot(ws.id) == before
    # Each one that was dropped left one line saying why, for the function it reached.
    with open(log, "rb") as f:
        f.seek(logged)
        lines = [json.loads(line) for line in f.read().splitlines() if line.startswith(b"{")]
    drops = [line for line in lines if line.get("dropped") and line.get("function") == name]
    assert len(drops) == sum(a.get("ok") is False for a in answers) >= len(bodies) - 3, answers
