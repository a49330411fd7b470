"""Transport settings: WebSocket compression is declined (it cost most of the memory per socket)."""
from __future__ import annotations

import websocket

from relay_harness import token


def test_permessage_deflate_is_declined(relay, world):
    url = relay.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=5, header=[
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    try:
        assert "sec-websocket-extensions" not in {k.lower() for k in ws.getheaders()}
        assert ws.recv().startswith("0")
        ws.send("40" + '{"token":"%s"}' % token(world["a1"], world["ws_a"]))
        assert ws.recv().startswith("40")
    finally:
        ws.close()
