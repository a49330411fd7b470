"""The relay's HTTP/1.1 server: engine.io (long-polling and the WebSocket upgrade) and /health.

A small asyncio protocol instead of aiohttp: what the relay serves is one engine.io endpoint and
one JSON route, and aiohttp's per-connection request, parser and handler-task objects were the
largest share of the memory per socket (bench/relay_memory.py). A connection parses requests
itself, builds the WSGI-style environ engineio reads, and answers one request at a time
(keep-alive, pipelined requests wait their turn). On a WebSocket upgrade it writes the 101 answer
and hands the transport to relay/websocket.py.

Refused here, before engineio sees them: heads over 16 KB, malformed request lines or headers,
Transfer-Encoding bodies (engine.io clients send Content-Length), and WebSocket handshakes with a
missing key or another version than 13. A body over engineio's max_http_buffer_size is not read:
engineio refuses it by its Content-Length and the connection is closed.
"""
from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from urllib.parse import unquote

from utalk import logs

from .engine import CONNECTION, HANDLED
from .websocket import WebSocketConnection, accept_key, handshake_response

log = logs.get("relay.web")

ENGINE_PATHS = ("/socket.io/", "/socket.io")
MAX_HEAD_BYTES = 16 * 1024
READ_BUFFER_BYTES = 64 * 1024
# An HTTP connection with no request in flight is closed after this long (slow or idle clients).
# One sweep over the HTTP connections every IDLE_SECONDS / 4, not a timer per connection: a
# cancelled TimerHandle stays in the loop's heap until its deadline, i.e. 60 s of it per connect.
IDLE_SECONDS = 60.0


def status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


class Body:
    """`wsgi.input`: the request body, already read."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data

    async def read(self, n: int = -1) -> bytes:
        return self.data if n < 0 else self.data[:n]


class BadRequest(ValueError):
    def __init__(self, code: int = 400):
        super().__init__(code)
        self.code = code


def parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise BadRequest()
    if parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505)
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        # No obsolete line folding, no whitespace before the colon (RFC 9112 5.1, 5.2).
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise BadRequest()
        headers.append((name.lower(), value.strip(" \t")))
    return parts[0], parts[1], parts[2], headers


def build_environ(method: str, target: str, version: str, headers, body: bytes, conn) -> dict:
    path, _, query = target.partition("?")
    peer = conn.transport.get_extra_info("peername")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": unquote(path), "QUERY_STRING": query,
               "RAW_URI": target, "SERVER_PROTOCOL": version,
               "REMOTE_ADDR": peer[0] if isinstance(peer, tuple) else "", "wsgi.input": Body(body),
               CONNECTION: conn}
    for name, value in headers:
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ


class WebServer:
    """engine.io at /socket.io/, plus `routes`: path -> async () -> (status code, JSON body)."""

    def __init__(self, eio, routes: dict):
        self.eio, self.routes = eio, routes
        self.max_message_bytes = eio.max_http_buffer_size
        # One read buffer for every connection: the transport fills it and calls the protocol
        # right away, which copies out what it keeps (no 256 KB recv buffer per read).
        self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self.connections: set = set()
        self.server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> None:
        # A deep backlog: hundreds of clients reconnect at once after a deploy.
        self.server = await asyncio.get_running_loop().create_server(
            lambda: HttpConnection(self), host, port, backlog=2048)
        self._sweep()

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        idle_since = loop.time() - IDLE_SECONDS
        for conn in [c for c in self.connections if isinstance(c, HttpConnection)]:
            if conn.task is None and conn.since < idle_since:
                conn.transport.close()
        self._sweeper = loop.call_later(IDLE_SECONDS / 4, self._sweep)

    def stop_accepting(self) -> None:
        if self.server is not None:
            self.server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def close(self, grace: float = 2.0) -> None:
        """Stop accepting; give closing connections `grace` seconds, then cut what is left."""
        self.stop_accepting()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.connections and loop.time() < deadline:
            for conn in list(self.connections):
                if isinstance(conn, HttpConnection) and conn.task is None:
                    conn.transport.close()  # idle keep-alive connections have nothing to finish
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.transport.abort()

    async def dispatch(self, environ: dict):
        """(status, headers, body), or None when the connection became a WebSocket."""
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path in ENGINE_PATHS:
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and method == "GET":
                if "upgrade" not in {t.strip().lower() for t in environ.get("HTTP_CONNECTION", "").split(",")}:
                    return status_line(400), [], b"Connection: Upgrade missing"
                if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
                    return status_line(426), [("Sec-WebSocket-Version", "13")], b"WebSocket version 13 only"
                if accept_key(environ.get("HTTP_SEC_WEBSOCKET_KEY", "")) is None:
                    return status_line(400), [], b"Bad WebSocket key"
            r = await self.eio.handle_request(environ)
            return None if r is HANDLED else r
        route = self.routes.get(path)
        if route is None:
            return status_line(404), [("Content-Type", "text/plain")], b"Not Found"
        if method not in ("GET", "HEAD"):
            return status_line(405), [("Allow", "GET, HEAD")], b""
        code, payload = await route()
        return status_line(code), [("Content-Type", "application/json")], json.dumps(payload).encode()


class HttpConnection(asyncio.BufferedProtocol):
    __slots__ = ("web", "transport", "buf", "task", "since", "eof")

    def __init__(self, web: WebServer):
        self.web, self.transport, self.buf, self.task = web, None, b"", None
        self.since = 0.0  # loop time the connection last became idle (for WebServer._sweep)
        self.eof = False  # the client half-closed: answer what is in flight, then close

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.since = asyncio.get_running_loop().time()
        self.web.connections.add(self)

    def connection_lost(self, exc) -> None:
        # An in-flight request is not cancelled: a long-poll that ends early would make engineio
        # close the session; it completes and writes to the closed transport (a no-op).
        self.web.connections.discard(self)
        self.buf = b""

    def get_buffer(self, sizehint):
        return self.web.read_buffer

    def buffer_updated(self, nbytes) -> None:
        data = self.web.read_buffer[:nbytes].tobytes()
        self.buf = self.buf + data if self.buf else data
        if self.task is None:
            self._next()
        elif len(self.buf) > MAX_HEAD_BYTES + self.web.max_message_bytes:
            self.transport.pause_reading()  # pipelined requests wait for the one in flight

    def eof_received(self):
        self.eof = True
        return True if self.task is not None else None  # None: the transport closes itself

    def _next(self) -> None:
        """Starts serving the next complete request in the buffer, if there is one."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0 or end > MAX_HEAD_BYTES:
            if end > MAX_HEAD_BYTES or len(buf) > MAX_HEAD_BYTES:
                self._refuse(431)
            return
        try:
            method, target, version, headers = parse_head(buf[:end])
            fields = dict(headers)
            if "transfer-encoding" in fields:
                raise BadRequest(501)
            if sum(1 for name, _ in headers if name == "content-length") > 1:
                raise BadRequest()  # which one frames the body is ambiguous (request smuggling)
            length = fields.get("content-length", "0")
            if not length.isdigit():
                raise BadRequest()
            length = int(length)
        except BadRequest as exc:
            self._refuse(exc.code)
            return
        start = end + 4
        tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
        keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
        if length > self.web.max_message_bytes:
            # Not read: engineio refuses it by its Content-Length, and the unread body makes the
            # connection unusable for another request.
            body, self.buf, keep_alive = b"", b"", False
        elif len(buf) < start + length:
            return  # the rest of the body is on its way
        else:
            body, self.buf = buf[start:start + length], buf[start + length:]
        environ = build_environ(method, target, version, headers, body, self)
        self.task = asyncio.ensure_future(self._serve(environ, keep_alive, method == "HEAD"))

    async def _serve(self, environ: dict, keep_alive: bool, head_only: bool) -> None:
        try:
            response = await self.web.dispatch(environ)
        except Exception:
            log.exception("request failed", extra={"path": environ.get("PATH_INFO")})
            response, keep_alive = (status_line(500), [], b""), False
        if response is None:
            self.task = None
            return  # upgraded: the transport belongs to the WebSocket connection now
        if self.transport.is_closing():
            return
        status, headers, body = response
        keep_alive = keep_alive and not self.eof
        self._write(status, headers, body, keep_alive, head_only)
        self.task = None
        if not keep_alive:
            self.transport.close()
            return
        self.since = asyncio.get_running_loop().time()
        self.transport.resume_reading()
        if self.buf:
            self._next()

    def _write(self, status: str, headers, body: bytes, keep_alive: bool, head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))

    def _refuse(self, code: int) -> None:
        self.buf = b""
        self._write(status_line(code), [("Content-Type", "text/plain")], HTTPStatus(code).phrase.encode(), False)
        self.transport.close()

    def upgrade(self, socket, environ: dict) -> WebSocketConnection:
        """Called by the engine.io socket (relay/engine.py) to take the connection as a WebSocket.
        The handshake was checked in WebServer.dispatch; permessage-deflate is never offered back."""
        self.transport.write(handshake_response(accept_key(environ["HTTP_SEC_WEBSOCKET_KEY"])))
        self.web.connections.discard(self)
        pending, self.buf = self.buf, b""
        ws = WebSocketConnection(self.web, self.transport, socket)
        self.transport.set_protocol(ws)
        loop = asyncio.get_running_loop()
        if self.transport.is_closing():
            # The client left during the handshake: the transport will not report it again.
            loop.call_soon(ws.connection_lost, None)
            return ws
        self.transport.resume_reading()
        if pending:
            # Frames the client sent right behind the handshake: handled once the socket has
            # finished attaching this connection.
            loop.call_soon(ws.feed, pending)
        return ws
