"""A server-side WebSocket connection (RFC 6455) on a bare asyncio transport, for engine.io.

Why not aiohttp's WebSocketResponse: per socket it keeps the request, its protocol, parser and
reader objects and the handler task's coroutine chain, ~10 KB of the ~31 KB per socket that
bench/relay_memory.py found. This connection is one object with a few slots; it parses frames as
they arrive and hands whole messages to the engine.io socket (relay/engine.py), and writes frames
straight to the transport.

What it accepts: masked client frames, text (UTF-8 checked) and binary messages, fragmented or
not, ping/pong/close control frames. No extension is ever negotiated (the handshake answers without
Sec-WebSocket-Extensions, i.e. permessage-deflate is declined, as Node's socket.io does), so a
frame with a reserved bit set is a protocol error. A message over `max_bytes` (engine.io's
max_http_buffer_size, 1 MB) closes the connection with 1009 before its payload is buffered.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A client that stops reading while events keep coming: past this much unsent data the
# connection is dropped instead of buffering without bound (engine.io's ping timeout would only
# notice after ~45 s).
WRITE_LIMIT = 8 * 1024 * 1024
# How long a close we started waits for the client's close frame before cutting the TCP connection.
CLOSE_TIMEOUT = 5.0

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def accept_key(key: str) -> str | None:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key, or None when the key is malformed."""
    try:
        if len(base64.b64decode(key.encode("ascii"), validate=True)) != 16:
            return None
    except (binascii.Error, UnicodeEncodeError):
        return None
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def handshake_response(accept: str) -> bytes:
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept.encode("ascii") + b"\r\n\r\n")


def frame(opcode: int, payload: bytes) -> bytes:
    """One unfragmented, unmasked (server to client) frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def unmask(payload, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    # XOR as one big integer: linear and in C, where a per-byte loop would be Python.
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def close_payload(code: int) -> bytes:
    return struct.pack("!H", code)


class WebSocketConnection(asyncio.BufferedProtocol):
    """Takes over the transport after the HTTP upgrade; `socket` is the engine.io socket."""

    __slots__ = ("web", "transport", "socket", "buf", "frag", "closing")

    def __init__(self, web, transport, socket):
        self.web, self.transport, self.socket = web, transport, socket
        self.buf = None    # bytearray of an incomplete frame, only while one is pending
        self.frag = None   # [opcode, part, part, ...] of a fragmented message in progress
        # None while open; the TimerHandle ending the wait once we sent a close frame; True at the end.
        self.closing = None
        web.connections.add(self)

    # -- reading ----------------------------------------------------------------------------
    def get_buffer(self, sizehint):
        return self.web.read_buffer

    def buffer_updated(self, nbytes):
        self.feed(self.web.read_buffer[:nbytes].tobytes())

    def feed(self, data) -> None:
        if self.buf is not None:
            self.buf += data
            data = self.buf
        pos, end = 0, len(data)
        cap = self.web.max_message_bytes
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            n, head = b1 & 0x7F, 2
            if n == 126:
                if end - pos < 4:
                    break
                n, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
            opcode, fin = b0 & 0x0F, b0 & 0x80
            # Checked on the header, before waiting for (and buffering) the payload.
            if b0 & 0x70 or not b1 & 0x80:
                return self.fail(1002)  # a reserved bit (no extension agreed) or an unmasked frame
            if opcode >= OP_CLOSE:
                if not fin or n > 125 or opcode > OP_PONG:
                    return self.fail(1002)
            elif opcode > OP_BINARY:
                return self.fail(1002)
            elif n + (sum(map(len, self.frag[1:])) if self.frag else 0) > cap:
                return self.fail(1009)
            start = pos + head + 4
            if end < start + n:
                break
            payload = unmask(data[start:start + n], bytes(data[start - 4:start]))
            pos = start + n
            self._frame(opcode, fin, payload)
            if self.transport.is_closing():
                self.buf = None
                return
        self.buf = bytearray(data[pos:]) if pos < end else None

    def _frame(self, opcode: int, fin: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            if isinstance(self.closing, asyncio.TimerHandle):
                self.closing.cancel()  # the answer to our own close frame
            elif len(payload) == 1:
                return self.fail(1002)
            else:
                self.transport.write(frame(OP_CLOSE, payload[:2]))  # echo the client's code
            # The close handshake is done: end the TCP connection.
            self.closing = True
            self.transport.close()
        elif self.closing is not None:
            pass  # after our close frame only the client's close frame matters
        elif opcode == OP_PING:
            self.transport.write(frame(OP_PONG, payload))
        elif opcode == OP_PONG:
            pass
        elif opcode == OP_CONT:
            if self.frag is None:
                return self.fail(1002)
            self.frag.append(payload)
            if fin:
                parts, self.frag = self.frag, None
                self._message(parts[0], b"".join(parts[1:]))
        elif self.frag is not None:
            self.fail(1002)  # a new message inside a fragmented one
        elif fin:
            self._message(opcode, payload)
        else:
            self.frag = [opcode, payload]

    def _message(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            try:
                data = payload.decode("utf-8")
            except UnicodeDecodeError:
                return self.fail(1007)
        else:
            data = payload
        if self.socket is not None:
            self.socket.on_ws_message(self, data)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def eof_received(self):
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc) -> None:
        if isinstance(self.closing, asyncio.TimerHandle):
            self.closing.cancel()
        self.closing = True
        self.web.connections.discard(self)
        socket, self.socket = self.socket, None
        if socket is not None:
            socket.on_ws_closed(self)

    # -- writing ----------------------------------------------------------------------------
    def send_packet(self, pkt) -> None:
        if self.closing is not None:
            return
        data = pkt.encode()
        if isinstance(data, str):
            self.transport.write(frame(OP_TEXT, data.encode("utf-8")))
        else:
            self.transport.write(frame(OP_BINARY, data))
        if self.transport.get_write_buffer_size() > WRITE_LIMIT:
            self.fail(1008)

    def close(self, code: int = 1000) -> None:
        """Close handshake: our close frame after whatever was written, then wait for the client's."""
        if self.closing is not None or self.transport.is_closing():
            return
        self.transport.write(frame(OP_CLOSE, close_payload(code)))
        self.closing = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.abort)

    def fail(self, code: int) -> None:
        """Protocol error: a close frame with the reason, and the connection ends now."""
        if self.closing is None and not self.transport.is_closing():
            self.transport.write(frame(OP_CLOSE, close_payload(code)))
        if isinstance(self.closing, asyncio.TimerHandle):
            self.closing.cancel()
        self.closing = True
        self.transport.close()
