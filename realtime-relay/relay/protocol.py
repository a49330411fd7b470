"""The Socket.IO server class: hardened against packets that do not decode, on the lean engine.

python-socketio raises out of `_handle_eio_message` for a malformed Socket.IO packet (bad JSON,
an event that is not a list, ...); engine.io logs that as a handler error with a traceback and
the client hears nothing. Here the client gets an `error` event {code: "malformed_packet"} and
the log gets one warning line. (An engine.io-level frame that does not decode still closes that
one connection: the transport cannot be trusted after it.)

Under it runs relay/engine.py's engine.io server, and socketio keeps only the part of each
socket's environ that the connect handler reads (the rest of the headers, the request body
reader and the HTTP connection would otherwise live as long as the socket).
"""
from __future__ import annotations

import socketio

from utalk import logs

from .engine import EngineServer

log = logs.get("relay.protocol")

# The environ keys a Socket.IO connect handler reads (relay/auth.py: the bearer header; a web chat
# visitor's origin still to check, relay/visitors.py).
KEPT_ENVIRON = ("HTTP_AUTHORIZATION", "utalk.visitor_origin")


class RelayServer(socketio.AsyncServer):
    def _engineio_server_class(self):
        return EngineServer

    async def _handle_eio_connect(self, eio_sid, environ):
        await super()._handle_eio_connect(eio_sid, {k: environ[k] for k in KEPT_ENVIRON if k in environ})

    async def _handle_eio_message(self, eio_sid, data):
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            self._binary_packet.pop(eio_sid, None)
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            log.warning("malformed packet", extra={"sid": sid, "error": type(exc).__name__})
            if sid is not None:
                await self.emit("error", {"code": "malformed_packet"}, to=sid)
