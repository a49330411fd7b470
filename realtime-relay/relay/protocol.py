"""The Socket.IO server class, hardened against packets that do not decode.

python-socketio raises out of `_handle_eio_message` for a malformed Socket.IO packet (bad JSON,
an event that is not a list, ...); engine.io logs that as a handler error with a traceback and
the client hears nothing. Here the client gets an `error` event {code: "malformed_packet"} and
the log gets one warning line. (An engine.io-level frame that does not decode still closes that
one connection: the transport cannot be trusted after it.)
"""
from __future__ import annotations

import socketio

from utalk import logs

log = logs.get("relay.protocol")


class RelayServer(socketio.AsyncServer):
    async def _handle_eio_message(self, eio_sid, data):
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            self._binary_packet.pop(eio_sid, None)
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            log.warning("malformed packet", extra={"sid": sid, "error": type(exc).__name__})
            if sid is not None:
                await self.emit("error", {"code": "malformed_packet"}, to=sid)
