"""The engine.io layer under python-socketio, reshaped so an idle WebSocket costs no task and no queue.

python-engineio's `AsyncSocket` keeps, per WebSocket connection, a reader loop, a writer task, an
`asyncio.Queue` between them, a fresh `wait_for` task per received frame and a sleeping task per
ping: about 20 coroutines, 6 tasks and 2.4 KB of queue per socket, most of the memory per socket
that was not aiohttp's (bench/relay_memory.py). Here a WebSocket socket is driven by its
connection (relay/websocket.py): frames are written straight to the transport, received packets
are handled by a task that exists only while there is something to handle, and pings are timer
callbacks. Long-polling sockets keep engineio's queue, created on first use.

Everything above (handshake, CORS/origin check, sids, polling, ping timeouts, the events socketio
listens to) is engineio's own `AsyncServer`; only the socket class and the HTTP glue differ.
"""
from __future__ import annotations

import asyncio
import time

import engineio
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

# Returned through engineio's handle_request when the connection became a WebSocket: the HTTP
# layer writes no response for it.
HANDLED = object()
# The key under which the HTTP layer puts its connection into the environ (for the upgrade).
CONNECTION = "relay.connection"
# Received packets waiting for their handler before the connection stops reading from the client.
INBOX_LIMIT = 64
# How often the sockets are checked for a missed pong (engineio spreads one check per socket over
# ping_timeout, each a wait_for task: 500 tasks a second at 10,000 sockets).
SERVICE_INTERVAL = 1.0
# Strong references to the short-lived tasks started here (the loop itself only keeps weak ones).
_tasks: set[asyncio.Task] = set()


def _spawn(coro) -> None:
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _translate_request(environ):
    return environ  # the HTTP layer (relay/web.py) builds the environ itself


def _make_response(status, headers, body, environ):
    return status, headers, body


DRIVER = {"asyncio": True, "translate_request": _translate_request, "make_response": _make_response,
          # Only looked at for "is there a WebSocket transport"; the upgrade is LeanSocket's own.
          "websocket": True, "create_route": None}


class EngineServer(engineio.AsyncServer):
    def __init__(self, **kwargs):
        # 'asgi' only to get past engineio's driver import (the lightest one); the driver used is ours.
        kwargs["async_mode"] = "asgi"
        super().__init__(**kwargs)
        self._async, self.async_mode = DRIVER, "relay"

    async def _handle_connect(self, environ, transport, jsonp_index=None):
        """engineio's, with LeanSocket instead of AsyncSocket (engineio hard-codes the class here)."""
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)
        sid = self.generate_id()
        s = LeanSocket(self, sid, websocket=transport == "websocket")
        self.sockets[sid] = s
        await s.send(packet.Packet(packet.OPEN, {
            "sid": sid, "upgrades": self._upgrades(sid, transport),
            "pingTimeout": int(self.ping_timeout * 1000),
            "pingInterval": int(self.ping_interval + self.ping_interval_grace_period) * 1000,
            "maxPayload": self.max_http_buffer_size}))
        ret = await self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)
        s.schedule_ping()
        if transport == "websocket":
            ret = await s.handle_get_request(environ)
            if s.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        s.connected = True
        try:
            return self._ok(await s.poll(), jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()

    async def _service_task(self):
        """Closes sockets whose client missed a pong, and forgets closed ones: one synchronous pass
        over the sockets per SERVICE_INTERVAL."""
        self.service_task_event = self.create_event()
        while not self.service_task_event.is_set():
            await asyncio.sleep(SERVICE_INTERVAL)
            now = time.time()
            for sid, s in list(self.sockets.items()):
                if s.closed:
                    if self.sockets.get(sid) is s:
                        del self.sockets[sid]
                elif not s.closing and s.last_ping and now - s.last_ping > self.ping_timeout:
                    _spawn(s.check_ping_timeout())  # closes it, with engine.io's CLOSE packet


class LeanSocket(AsyncSocket):
    """An engine.io socket whose WebSocket transport is a connection object, not two tasks."""

    def __init__(self, server, sid, websocket: bool = False):
        # Not BaseSocket.__init__: it builds an asyncio.Queue (4 deques and an Event, ~2.4 KB)
        # that a WebSocket socket never needs. Polling gets one lazily (`queue`).
        self.server, self.sid = server, sid
        self.last_ping = time.time()
        self.connected = self.upgrading = self.upgraded = self.closing = self.closed = False
        self.session = {}
        self.ws = None          # the WebSocket connection (relay/websocket.py) once attached
        self._queue = None
        # Packets sent before a direct WebSocket is attached (the OPEN packet): a list, not a queue.
        self._backlog = [] if websocket else None
        self._ping = None       # TimerHandle of the next ping
        self._inbox = None      # received packets waiting for _drain
        self._polls = 0         # long-poll requests waiting on the queue
        self._probing = False   # upgrade from polling: "2probe" seen, waiting for "5"

    @property
    def queue(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = self.server.create_queue()
        return self._queue

    # -- sending ----------------------------------------------------------------------------
    async def send(self, pkt):
        if not await self.check_ping_timeout():
            return
        self._push(pkt)

    def _push(self, pkt) -> None:
        if self.ws is not None and not self.upgrading:
            self.ws.send_packet(pkt)
        elif self._backlog is not None:
            self._backlog.append(pkt)
        else:
            self.queue.put_nowait(pkt)  # polling: the queue is unbounded, put() never waits

    async def poll(self):
        self._polls += 1
        try:
            return await super().poll()
        finally:
            self._polls -= 1

    # -- pings: a timer callback instead of a task sleeping for ping_interval ---------------
    def schedule_ping(self):
        if self.last_ping:
            self.last_ping = None
            self._ping = asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        self._ping = None
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self._push(packet.Packet(packet.PING))

    # -- WebSocket transport ----------------------------------------------------------------
    async def _upgrade_websocket(self, environ):
        if self.upgraded:
            raise OSError("Socket has been upgraded already")
        conn = environ.get(CONNECTION)
        if conn is None:
            return self.server._bad_request()
        self.ws = conn.upgrade(self, environ)
        if self.connected:
            self.upgrading = True  # polling goes on (and gets the sends) until "5" arrives
        else:
            self.connected = self.upgraded = True
            backlog, self._backlog = self._backlog or [], None
            for pkt in backlog:
                self.ws.send_packet(pkt)
        return HANDLED

    def on_ws_message(self, ws, data) -> None:
        """A complete text or binary message from the WebSocket connection `ws`."""
        if ws is not self.ws:
            return  # a connection this socket already let go of
        if len(data) > self.server.max_http_buffer_size:
            self.ws.fail(1009)
            return
        try:
            pkt = packet.Packet(encoded_packet=data)
        except Exception:
            # Not an engine.io packet: the transport cannot be trusted after it; only this
            # connection is dropped.
            self.server.logger.info("%s: undecodable packet, dropping the connection", self.sid)
            self.ws.fail(1003)
            return
        if self.upgrading:
            self._upgrade_step(pkt)
        elif pkt.packet_type == packet.PONG:
            self.schedule_ping()  # what receive() does, without a task per pong
        else:
            if self._inbox is None:
                self._inbox = [pkt]
                _spawn(self._drain())
            else:
                self._inbox.append(pkt)
                if len(self._inbox) >= INBOX_LIMIT:
                    self.ws.pause_reading()

    async def _drain(self) -> None:
        """Handles received packets one after another (a CONNECT before the events that follow
        it), then ends: no task waits on an idle socket."""
        inbox = self._inbox
        while inbox:
            pkt = inbox.pop(0)
            try:
                await self.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
            except Exception:
                self.server.logger.exception("Unknown receive error")
        self._inbox = None
        if self.ws is not None:
            self.ws.resume_reading()

    def _upgrade_step(self, pkt) -> None:
        ws = self.ws
        if not self._probing:
            if pkt.packet_type != packet.PING or pkt.data != "probe":
                self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self._abandon_upgrade()
                return
            ws.send_packet(packet.Packet(packet.PONG, data="probe"))
            self.queue.put_nowait(packet.Packet(packet.NOOP))  # ends the pending poll
            self._probing = True
            return
        if pkt.packet_type != packet.UPGRADE:
            self.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
            self._abandon_upgrade()
            return
        self.upgraded, self.upgrading, self._probing = True, False, False
        q = self._queue
        while q is not None and not q.empty():
            pkt = q.get_nowait()
            q.task_done()
            if pkt is not None:
                ws.send_packet(pkt)
        if q is not None and not self._polls:
            self._queue = None  # no poll will read it again: WebSocket sockets keep no queue

    def _abandon_upgrade(self) -> None:
        ws, self.ws = self.ws, None
        self.upgrading = self._probing = False
        ws.socket = None
        ws.close()

    def on_ws_closed(self, ws) -> None:
        """The WebSocket connection is gone (client close, network, protocol error)."""
        if self.ws is not ws:
            return
        if self.upgrading:
            self.ws = None
            self.upgrading = self._probing = False  # a failed upgrade: polling goes on
            return
        self.ws = None
        if not self.closed and not self.closing:
            _spawn(self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE))

    # -- closing ----------------------------------------------------------------------------
    async def close(self, wait=True, abort=False, reason=None):
        if self.closed or self.closing:
            return
        self.closing = True
        if self._ping is not None:
            self._ping.cancel()
            self._ping = None
        await self.server._trigger_event("disconnect", self.sid,
                                         reason or self.server.reason.SERVER_DISCONNECT, run_async=False)
        if not abort:
            self._push(packet.Packet(packet.CLOSE))
        self.closed = True
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.socket = None
            ws.close()  # after what was written: the client reads everything, then the close frame
            if self.server.sockets.get(self.sid) is self:
                del self.server.sockets[self.sid]
            if self._polls:
                self._queue.put_nowait(None)  # closed mid-upgrade: the pending poll ends now
        elif wait and self._queue is not None:
            await self._queue.join()

    async def drop(self) -> None:
        """Shutdown: end the transport without an engine.io CLOSE packet, so the client takes it
        for a dropped connection and reconnects (to another instance, or this one restarted)."""
        await self.close(wait=False, abort=True)
        if self._queue is not None:
            self._queue.put_nowait(None)  # a waiting long-poll returns at once
