"""Socket.IO handlers: connect/disconnect, conversation rooms, typing, presence, token refresh.

Who may hear which conversation (rooms, joins, reassignments) is relay/visibility.py's. A web chat
visitor's socket (relay/visitors.py) is in its own room only; of the client events it may send
typing (to the agents of its conversation) and auth:refresh, with a stricter per-socket limit.

Every client event goes through `client_event`: per-socket rate limit, size and shape checks,
and a catch-all so a bad event yields an `error` event ({code, event}) instead of an exception.
Handlers with an ack callback also get {ok: true|false, error?}.
"""
from __future__ import annotations

import asyncio
import functools
import json
import time

import socketio

from utalk import logs

from . import rooms
from utalk.auth.tokens import Principal

from .auth import AuthError, authenticate, verify, verify_visitor
from .presence import STATUSES
from .rate_limit import TokenBucket
from .routing import valid_conversation_id, valid_id
from .sessions import Session, Sessions
from .visibility import Visibility
from .visitors import ORIGIN_TO_CHECK, Chats, VisitorSession, is_web

log = logs.get("relay.handlers")

PRESENCE_ROLES = ("admin", "agent")
VISITOR_EVENTS = frozenset({"typing:start", "typing:stop", "auth:refresh"})


class Refused(Exception):
    """A client event that cannot be served; `code` goes back in the ack and the error event."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class Relay:
    def __init__(self, sio: socketio.AsyncServer, db, presence, cfg):
        self.sio, self.db, self.presence, self.cfg = sio, db, presence, cfg
        self.sessions = Sessions()
        self.visitors: dict[str, VisitorSession] = {}   # web chat visitors' sockets: no presence, no visibility
        self.chats = Chats(db)
        self.visibility = Visibility(sio.manager, db, self.sessions, cfg.visibility_ttl_seconds)
        sio.manager.visibility = self.visibility  # the hooked manager (visibility.hooked) reports emits
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        for name, fn in (("conversation:join", self.conversation_join),
                         ("conversation:leave", self.conversation_leave),
                         ("typing:start", functools.partial(self.typing, "typing:start")),
                         ("typing:stop", functools.partial(self.typing, "typing:stop")),
                         ("presence:update", self.presence_update),
                         ("auth:refresh", self.auth_refresh)):
            sio.on(name, self.client_event(name, fn))
        sio.on("*", self.unknown_event)

    # -- connection -------------------------------------------------------------------------
    async def connect(self, sid, environ, auth=None):
        try:
            principal = authenticate(environ, auth)
            if not valid_id(principal.workspace_id) or not valid_id(principal.user_id if isinstance(
                    principal, Principal) else principal.visitor_id):
                raise AuthError("token_invalid", "ids not usable in room names")
            origin = environ.get(ORIGIN_TO_CHECK)   # a site not in UTALK_CORS_ORIGINS: a web chat's, or refused
            if isinstance(principal, Principal):
                if origin is not None:
                    raise AuthError("origin_not_allowed", origin[:100])
            elif refused := await self.chats.refusal(principal, origin):
                raise AuthError(refused, (origin or "")[:100])
        except AuthError as exc:
            log.info("connect refused", extra={"code": exc.code, "detail": exc.detail})
            raise socketio.exceptions.ConnectionRefusedError(exc.code, {"code": exc.code}) from None
        # socketio keeps this environ for the socket's lifetime: the bearer token has no business
        # staying in memory after it was verified.
        environ.pop("HTTP_AUTHORIZATION", None)
        if not isinstance(principal, Principal):
            session = VisitorSession(principal, TokenBucket(self.cfg.visitor_events_per_minute))
            self.visitors[sid] = session
            self.sio.manager.basic_enter_room(sid, "/", session.room)
            self._schedule_expiry(sid, session)
            return
        try:
            prepared = await self.visibility.prepare(principal)
        except Exception:
            log.exception("workspace settings unreadable; connect refused", extra={"sid": sid})
            raise socketio.exceptions.ConnectionRefusedError("unavailable", {"code": "unavailable"}) from None
        session = Session(principal, TokenBucket(self.cfg.events_per_minute))
        self.sessions[sid] = session
        ws, user = principal.workspace_id, principal.user_id
        self.visibility.connected(sid, session, prepared)
        self._schedule_expiry(sid, session)
        try:
            await self.presence.connected(ws, user, sid)
        except Exception:
            # Presence bookkeeping must not cost the agent their live feed; the heartbeat
            # re-registers the socket within HEARTBEAT_SECONDS.
            log.exception("presence bookkeeping failed on connect", extra={"sid": sid})
        log.debug("connected", extra={"sid": sid, "workspaceId": ws, "userId": user})

    async def disconnect(self, sid, reason=None):
        session = self.sessions.pop(sid, None) or self.visitors.pop(sid, None)
        if session is None:
            return
        if session.expiry is not None:
            session.expiry.cancel()
        if isinstance(session, VisitorSession):
            return
        self.visibility.disconnected(session)
        try:
            await self.presence.disconnected(session.workspace_id, session.user_id, sid)
        except Exception:
            log.exception("presence bookkeeping failed on disconnect", extra={"sid": sid})
        log.debug("disconnected", extra={"sid": sid, "reason": str(reason)})

    def _schedule_expiry(self, sid: str, session: Session | VisitorSession) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
        expires = session.visitor.expires_at if isinstance(session, VisitorSession) else session.principal.expires_at
        delay = max(0.0, expires - time.time())
        # A bound method and args, not a lambda: a closure per socket is a function and 3 cells more.
        session.expiry = asyncio.get_running_loop().call_later(delay, self._expire_soon, sid, session)

    def _expire_soon(self, sid: str, session: Session) -> None:
        asyncio.ensure_future(self._expire(sid, session))

    async def _expire(self, sid: str, session: Session | VisitorSession) -> None:
        if self._session(sid) is not session:
            return
        log.info("token expired, disconnecting", extra={"sid": sid, "userId": session.user_id})
        await self.sio.emit("error", {"code": "token_expired"}, to=sid)
        await self.sio.disconnect(sid)

    def _session(self, sid: str) -> Session | VisitorSession | None:
        return self.sessions.get(sid) or self.visitors.get(sid)

    # -- the guard every client event passes --------------------------------------------------
    def client_event(self, name: str, fn):
        visitors_may = name in VISITOR_EVENTS

        async def handler(sid, *args):
            session = self._session(sid)
            if session is None:
                return {"ok": False, "error": "not_connected"}
            code = self._check(session, args)
            if code is None and isinstance(session, VisitorSession) and not visitors_may:
                code = "forbidden"
            if code is None:
                try:
                    return await fn(sid, session, args[0])
                except (Refused, AuthError) as exc:
                    code = exc.code
                except Exception:
                    log.exception("client event failed", extra={"event": name, "sid": sid})
                    code = "internal"
            await self.sio.emit("error", {"code": code, "event": name}, to=sid)
            return {"ok": False, "error": code}
        return handler

    def _check(self, session: Session, args: tuple) -> str | None:
        if not session.limiter.allow():
            return "rate_limited"
        try:
            size = len(json.dumps(args, separators=(",", ":")))
        except (TypeError, ValueError):
            return "invalid_payload"  # binary attachments or values JSON cannot carry
        if size > self.cfg.max_event_bytes:
            return "payload_too_large"
        if len(args) != 1 or not isinstance(args[0], dict):
            return "invalid_payload"
        return None

    async def unknown_event(self, event, sid, *args):
        session = self._session(sid)
        if session is None:
            return
        code = "rate_limited" if not session.limiter.allow() else "unknown_event"
        await self.sio.emit("error", {"code": code, "event": str(event)[:100]}, to=sid)
        return {"ok": False, "error": code}

    # -- events -----------------------------------------------------------------------------
    async def conversation_join(self, sid, session: Session, data: dict):
        conv = data.get("conversationId")
        if not valid_conversation_id(conv):
            raise Refused("invalid_payload")
        refused = await self.visibility.join(sid, session, conv)
        if refused == "forbidden":
            raise Refused(refused)
        # not_found (missing, or not this socket's to see) answers in the ack only, as it always did.
        return {"ok": False, "error": refused} if refused else {"ok": True}

    async def conversation_leave(self, sid, session: Session, data: dict):
        conv = data.get("conversationId")
        if not valid_conversation_id(conv):
            raise Refused("invalid_payload")
        self.visibility.leave(sid, session, conv)
        return {"ok": True}

    async def typing(self, event: str, sid, session: Session | VisitorSession, data: dict):
        if isinstance(session, VisitorSession):   # to the agents of the visitor's own conversation, whatever it names
            visitor = session.visitor
            await self.sio.emit(event, {"conversationId": visitor.conversation_id, "userId": visitor.address},
                                room=rooms.conversation(visitor.workspace_id, visitor.conversation_id))
            return {"ok": True}
        conv = data.get("conversationId")
        if not valid_conversation_id(conv):
            raise Refused("invalid_payload")
        if conv not in session.conversations:
            raise Refused("not_in_conversation")
        await self.sio.emit(event, {"conversationId": conv, "userId": session.user_id},
                            room=rooms.conversation(session.workspace_id, conv), skip_sid=sid)
        if is_web(conv):   # the visitor hears that someone answers, not who (no user id)
            await self.sio.emit("typing", {"typing": event == "typing:start", "senderType": "agent"},
                                room=rooms.visitor(session.workspace_id, conv))
        return {"ok": True}

    async def presence_update(self, sid, session: Session, data: dict):
        status = data.get("status")
        if status not in STATUSES:
            raise Refused("invalid_payload")
        if session.principal.role not in PRESENCE_ROLES:
            raise Refused("forbidden")
        await self.presence.set_status(session.workspace_id, session.user_id, status)
        return {"ok": True}

    async def auth_refresh(self, sid, session: Session | VisitorSession, data: dict):
        if isinstance(session, VisitorSession):
            visitor = verify_visitor(data.get("token"))
            if visitor.conversation_id != session.visitor.conversation_id:
                raise Refused("token_mismatch")
            session.visitor = visitor
            self._schedule_expiry(sid, session)
            return {"ok": True, "expiresAt": visitor.expires_at}
        principal = verify(data.get("token"))
        if (principal.user_id, principal.workspace_id) != (session.user_id, session.workspace_id):
            raise Refused("token_mismatch")
        session.principal = principal
        self._schedule_expiry(sid, session)
        return {"ok": True, "expiresAt": principal.expires_at}
