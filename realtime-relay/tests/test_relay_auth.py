"""Connect-time authentication and token expiry, with both the Python and the JavaScript client."""
from __future__ import annotations

import base64
import json
import time

import pytest
import socketio

from relay_harness import JsClient, PyClient, token


def _refused(url: str, **kw):
    """The connect_error data the server sent with its refusal."""
    client = PyClient(url, connect=False, **kw)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    return client.connect_errors


def _alg_none(user: str, ws: str) -> str:
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"sub": user, "role": "agent", "workspaceId": ws, "tenantId": "t", "type": "access",
              "iss": "utalk", "aud": "utalk", "iat": now, "exp": now + 600}
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def test_valid_token_in_auth_payload_and_in_header(relay, world, clients):
    tok = token(world["a1"], world["ws_a"])
    assert clients(relay.url, tok).sio.connected
    assert clients(relay.url, headers={"Authorization": f"Bearer {tok}"}).sio.connected


@pytest.mark.parametrize("case", ["missing", "bad_signature", "expired", "alg_none", "garbage"])
def test_invalid_tokens_are_refused(relay, world, case):
    user, ws = world["a1"], world["ws_a"]
    good = token(user, ws)
    tok = {"missing": None,
           "bad_signature": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
           "expired": token(user, ws, now=time.time() - 3600),
           "alg_none": _alg_none(user, ws),
           "garbage": "not-a-jwt"}[case]
    want = {"missing": "token_missing", "expired": "token_expired"}.get(case, "token_invalid")
    assert _refused(relay.url, auth={"token": tok} if tok else None) == [{"message": want, "data": {"code": want}}]


def test_wrong_workspace_is_refused(relay, world):
    errors = _refused(relay.url, auth={"token": token(world["a1"], world["ws_a"]), "workspaceId": world["ws_b"]})
    assert errors[0]["data"] == {"code": "workspace_mismatch"}


def test_js_client_refused_with_code_and_accepted(relay, world):
    bad = JsClient(relay.url, auth={"token": "nope"})
    err = bad.wait_for("connect_error")
    assert err["message"] == "token_invalid" and err["data"] == {"code": "token_invalid"}
    good = JsClient(relay.url, headers={"Authorization": f"Bearer {token(world['a1'], world['ws_a'])}"})
    try:
        good.wait_for("ready")
    finally:
        good.close()


def test_expired_token_disconnects_unless_refreshed(relay, world, clients):
    user, ws = world["a1"], world["ws_a"]
    # Tokens issued "15 min minus 2 s ago" expire 2 s from now.
    soon = lambda: token(user, ws, now=time.time() - 15 * 60 + 2)  # noqa: E731
    lapsing = clients(relay.url, soon())
    refreshed = clients(relay.url, soon())
    assert refreshed.call("auth:refresh", {"token": token(user, ws)})["ok"] is True
    # A token of another user never extends this socket's session.
    other = refreshed.call("auth:refresh", {"token": token(world["a2"], ws)})
    assert other == {"ok": False, "error": "token_mismatch"}
    assert lapsing.wait_for("error", timeout=8) == {"code": "token_expired"}
    assert lapsing.disconnected.wait(5)
    time.sleep(0.5)
    assert refreshed.sio.connected and not refreshed.disconnected.is_set()
