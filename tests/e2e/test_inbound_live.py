"""A customer's WhatsApp message shows up live on an agent's screen: signed webhook -> function ->
`message-received` (which carries the realtime events) -> relay process -> Socket.IO client."""
from __future__ import annotations

import threading
import time

from messaging_support import INBOUND, conv_id, inbound_form, post_signed, wait_for, workspace
from realtime_support import in_order_client

CUSTOMER = "+5215599990000"
WANTED = ("conversation:new", "message:new", "conversation:updated")


def test_an_inbound_message_reaches_a_connected_screen_once_in_order(api, relay_port):
    ws = workspace(api, bot=False)
    got: list[tuple[str, dict]] = []
    lock = threading.Lock()
    client = in_order_client(reconnection=False)   # the order the relay sent them in

    def record(name):
        def handler(payload):
            with lock:
                got.append((name, payload))
        return handler
    for name in WANTED:
        client.on(name, record(name))
    try:
        client.connect(f"http://127.0.0.1:{relay_port}", auth={"token": ws.api.token}, transports=["websocket"],
                       wait_timeout=10)
        form = inbound_form(ws.number, CUSTOMER, "hola, ¿me ayudan?")
        assert post_signed(api, INBOUND, form).status_code == 200
        wait_for(lambda: len(got) >= 3, timeout=30)
        assert post_signed(api, INBOUND, form).status_code == 200  # Twilio retrying: announced again
        time.sleep(2)                                              # ...and shown nothing twice
        with lock:
            names = [name for name, _ in got]
            by_name = dict(got)
        assert names == list(WANTED)
        cid = conv_id(CUSTOMER, ws.number)
        assert by_name["conversation:new"]["customer"]["address"] == CUSTOMER
        message = by_name["message:new"]["message"]
        assert by_name["message:new"]["conversationId"] == cid and message["text"] == "hola, ¿me ayudan?"
        assert message["direction"] == "inbound" and message["id"].startswith("msg_")
        assert by_name["conversation:updated"]["reason"] == "message"
    finally:
        client.disconnect()
