"""The relay's own HTTP/WebSocket layer (relay/web.py, relay/websocket.py, relay/engine.py).

Long-polling and the polling-to-WebSocket upgrade with both official clients (what they do by
default), the origin check, the HTTP refusals, RFC 6455 framing (fragments, control frames, the
1 MB cap, protocol errors) and the engine.io heartbeat, all against a real relay process.
"""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import struct
import time

import pytest

from relay_harness import STACK, JsClient, PyClient, RawWebSocket, RelayProcess, http_raw, restart, token

EVIL = "http://evil.example"
ALLOWED = "http://localhost:5173"  # in UTALK_CORS_ORIGINS' default for the test env


def _port(relay) -> int:
    return int(relay.url.rsplit(":", 1)[1])


def _request(relay, method: str, path: str, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", _port(relay), timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def _socketio_over_raw(relay, world) -> RawWebSocket:
    """A raw WebSocket through the engine.io open and the Socket.IO connect."""
    ws = RawWebSocket(_port(relay))
    assert ws.status == 101, ws.head
    assert ws.recv_text().startswith("0{")
    ws.send_text("40" + json.dumps({"token": token(world["a1"], world["ws_a"])}))
    assert ws.recv_text().startswith("40")
    return ws


# -- the official clients over long-polling ------------------------------------------------------
def test_python_client_over_long_polling_only(relay, world, clients, publisher):
    c = clients(relay.url, token(world["a1"], world["ws_a"]), transports=["polling"])
    assert c.sio.transport() == "polling"
    assert c.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    publisher.event(world["ws_a"], "poll:event", {"n": 1}, audience="conversation", conversationId=world["conv_a"])
    assert c.wait_for("poll:event") == {"n": 1}


def test_python_client_upgrades_from_polling_to_websocket(relay, world, clients, publisher):
    c = clients(relay.url, token(world["a1"], world["ws_a"]), transports=["polling", "websocket"])
    deadline = time.monotonic() + 5
    while c.sio.transport() != "websocket" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.sio.transport() == "websocket"
    assert c.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    publisher.event(world["ws_a"], "after:upgrade", {"n": 2})
    assert c.wait_for("after:upgrade") == {"n": 2}


def test_js_client_default_transports_start_polling_and_upgrade(relay, world, publisher):
    js = JsClient(relay.url, auth={"token": token(world["a1"], world["ws_a"])}, join=[world["conv_a"]],
                  transports=["polling", "websocket"])
    try:
        # An upgrade happens only from polling (it may land before or after the Socket.IO connect).
        assert js.saw("upgraded")["transport"] == "websocket"
        assert js.saw("joined")["ack"] == {"ok": True}
        js.saw("ready")
        publisher.event(world["ws_a"], "message:new", {"via": "upgraded"}, audience="conversation",
                        conversationId=world["conv_a"])
        assert js.wait_for("event", "message:new")["args"] == [{"via": "upgraded"}]
    finally:
        js.close()


def test_js_client_bearer_header_over_polling(relay, world):
    js = JsClient(relay.url, headers={"Authorization": f"Bearer {token(world['a1'], world['ws_a'])}"},
                  transports=["polling"])
    try:
        assert js.saw("ready")
        assert js.saw("connected")["transport"] == "polling"
    finally:
        js.close()


# -- origin check (CORS for polling, the same check for the WebSocket handshake) -----------------
def test_foreign_origins_are_refused_and_allowed_ones_get_cors_headers(relay):
    path = "/socket.io/?EIO=4&transport=polling"
    status, _, body = _request(relay, "GET", path, {"Origin": EVIL})
    assert status == 400 and b"not an accepted origin" in body
    ws = RawWebSocket(_port(relay), headers=[f"Origin: {EVIL}"])
    assert ws.status == 400
    ws.close()

    status, headers, body = _request(relay, "GET", path, {"Origin": ALLOWED})
    assert status == 200 and body.startswith(b"0{")
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert headers["Access-Control-Allow-Credentials"] == "true"
    own = relay.url  # what non-browser clients send
    assert _request(relay, "GET", path, {"Origin": own})[0] == 200
    status, headers, _ = _request(relay, "OPTIONS", path, {"Origin": ALLOWED,
                                                           "Access-Control-Request-Headers": "authorization"})
    assert status == 200 and headers["Access-Control-Allow-Headers"] == "authorization"
    assert "GET" in headers["Access-Control-Allow-Methods"]


# -- the HTTP layer --------------------------------------------------------------------------
def test_health_and_http_refusals(relay):
    status, headers, body = _request(relay, "GET", "/health")
    assert status == 200 and headers["Content-Type"] == "application/json" and json.loads(body)["status"] == "ok"
    status, headers, body = _request(relay, "HEAD", "/health")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    assert _request(relay, "GET", "/nope")[0] == 404
    assert _request(relay, "POST", "/health")[0] == 405
    port = _port(relay)
    assert http_raw(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert http_raw(port, b"GET /health HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    assert http_raw(port, b"GET /health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")
    assert http_raw(port, b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").startswith(b"HTTP/1.1 501 ")
    assert http_raw(port, b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                          b"Content-Length: 2\r\n\r\n42").startswith(b"HTTP/1.1 400 ")
    # Keep-alive with pipelined requests: answered in order on the one connection.
    two = http_raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\n\r\n")
    assert two.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 404 " in two
    # WebSocket handshakes engine.io never gets to see.
    bad = RawWebSocket(port, version="8")
    assert bad.status == 426 and "Sec-WebSocket-Version: 13" in bad.head
    bad.close()
    no_connection_upgrade = http_raw(port, b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                                           b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: close\r\n\r\n")
    assert no_connection_upgrade.startswith(b"HTTP/1.1 400 ")
    assert relay.health()["status"] == "ok"


def test_polling_body_over_the_cap_is_refused_unread(relay, world):
    status, _, body = _request(relay, "GET", "/socket.io/?EIO=4&transport=polling")
    path = f"/socket.io/?EIO=4&transport=polling&sid={json.loads(body[1:])['sid']}"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        poll = pool.submit(_request, relay, "GET", path)  # the long-poll a client always has pending
        time.sleep(0.3)
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {1_000_001}\r\n\r\n").encode()
        answer = http_raw(_port(relay), head + b"4" * 1000)  # the rest is never sent, nor waited for
        assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
        assert poll.result(timeout=5)[2] == b"1"  # engine.io close: the session is over
    assert _request(relay, "GET", path)[0] == 400


# -- WebSocket framing -------------------------------------------------------------------------
def test_fragmented_messages_and_control_frames(relay, world):
    ws = _socketio_over_raw(relay, world)
    try:
        msg = f'421["conversation:leave",{{"conversationId":"{world["conv_a"]}"}}]'.encode()
        ws.send_frame(1, msg[:5], fin=False)
        ws.send_frame(9, b"mid")  # a ping between fragments is allowed and answered at once
        assert ws.recv_frame() == (10, b"mid")
        ws.send_frame(0, msg[5:20], fin=False)
        ws.send_frame(0, msg[20:])
        assert ws.recv_text() == '431[{"ok":true}]'
        ws.send_frame(8, struct.pack("!H", 1000))  # close handshake: echoed, then the server hangs up
        assert ws.close_code() == 1000
        assert ws.closed()
    finally:
        ws.close()


@pytest.mark.parametrize("case,code", [
    ("unmasked", 1002), ("reserved_bit", 1002), ("bad_utf8", 1007), ("orphan_continuation", 1002),
    ("unknown_opcode", 1002), ("oversized_frame", 1009), ("oversized_fragments", 1009),
    ("not_engineio", 1003), ("long_control_frame", 1002),
])
def test_protocol_errors_close_only_that_connection(relay, world, clients, case, code):
    ws = _socketio_over_raw(relay, world)
    try:
        if case == "unmasked":
            ws.send_frame(1, b"2", mask=False)
        elif case == "reserved_bit":
            ws.send_frame(1, b"42[\"x\"]", rsv=0x40)  # "compressed", though deflate was never agreed
        elif case == "bad_utf8":
            ws.send_frame(1, b"42[\"\xff\xfe\"]")
        elif case == "orphan_continuation":
            ws.send_frame(0, b"42[]")
        elif case == "unknown_opcode":
            ws.send_frame(3, b"x")
        elif case == "oversized_frame":
            ws.send_frame(1, b"", length=2_000_000)  # refused on the header, nothing is buffered
        elif case == "oversized_fragments":
            ws.send_frame(1, b"4" + b"x" * 600_000, fin=False)
            ws.send_frame(0, b"x" * 600_000)
        elif case == "not_engineio":
            ws.send_text("\x00")
        elif case == "long_control_frame":
            ws.send_frame(9, b"p" * 126)
        assert ws.close_code() == code
        assert ws.closed()
    finally:
        ws.close()
    assert relay.health()["status"] == "ok"
    assert clients(relay.url, token(world["a1"], world["ws_a"])).sio.connected


def test_a_message_just_under_the_cap_is_delivered(relay, world):
    ws = _socketio_over_raw(relay, world)
    try:
        pad = "x" * (1_000_000 - 200)
        ws.send_text('421["typing:start",{"conversationId":"c","pad":"%s"}]' % pad)
        # The relay's own 64 KB event limit answers, over a connection that stays open.
        assert ws.recv_text() == '42["error",{"code":"payload_too_large","event":"typing:start"}]'
        assert ws.recv_text() == '431[{"ok":false,"error":"payload_too_large"}]'
    finally:
        ws.close()


# -- engine.io heartbeat ----------------------------------------------------------------------
@pytest.fixture
def fast_ping_relay(emulators):
    r = RelayProcess("relay-ping", STACK.ports.relay + 1002,
                     {"RELAY_PING_INTERVAL_SECONDS": "1", "RELAY_PING_TIMEOUT_SECONDS": "1",
                      "RELAY_TOPIC": "realtime-events-ping", "RELAY_SUBSCRIPTION": "realtime-events-ping--relay"})
    yield r
    r.stop()


def test_heartbeat_keeps_answering_clients_and_drops_silent_ones(fast_ping_relay, world, clients):
    relay = fast_ping_relay
    alive = clients(relay.url, token(world["a2"], world["ws_a"]))
    silent = _socketio_over_raw(relay, world)
    try:
        assert silent.recv_text() == "2"  # pinged after the 1 s interval; never answers
        assert silent.closed(timeout=6)
        assert alive.sio.connected and not alive.disconnected.is_set()
        assert relay.health()["sockets"] == 1
    finally:
        silent.close()
    alive_over_polling = clients(relay.url, token(world["a1"], world["ws_a"]), transports=["polling"])
    time.sleep(3.5)  # several ping rounds over long-polling
    assert alive_over_polling.sio.connected and alive.sio.connected
    assert relay.health()["sockets"] == 2


def test_polling_open_packet_offers_the_upgrade_and_the_limits(relay):
    status, _, body = _request(relay, "GET", "/socket.io/?EIO=4&transport=polling")
    open_packet = json.loads(body[1:])
    assert status == 200 and open_packet["upgrades"] == ["websocket"]
    assert open_packet["maxPayload"] == 1_000_000 and open_packet["pingInterval"] == 25000


# -- shutdown ---------------------------------------------------------------------------------
@pytest.fixture
def own_relay(emulators):
    """An instance of its own, which the test stops and restarts."""
    env = {"RELAY_TOPIC": "realtime-events-web", "RELAY_SUBSCRIPTION": "realtime-events-web--relay"}
    holder = {"port": STACK.ports.relay + 1003, "env": env}
    holder["proc"] = RelayProcess("relay-web", holder["port"], env)
    yield holder
    holder["proc"].stop()


def test_sigterm_drops_long_polling_clients_so_they_reconnect(own_relay, world):
    client = PyClient(own_relay["proc"].url, connect=False, auth={"token": token(world["a1"], world["ws_a"])},
                      transports=["polling"])
    client.sio.reconnection = True
    client.sio.reconnection_delay = 0.2
    client.sio.reconnection_delay_max = 0.5
    client.connect()
    try:
        restart(own_relay, "relay-web", client)
        assert client.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    finally:
        client.sio.reconnection = False
        client.close()
