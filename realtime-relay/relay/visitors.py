"""Web chat visitors on the relay: their sockets, and what of their conversation they hear.

A visitor connects with its own token (utalk/auth/visitor_tokens.py) and its socket joins one
room only, `rooms.visitor(ws, conversation)`: never the workspace's, an agent's or a conversation's
agent room, so no event meant for agents can reach it, whatever its audience.

What a visitor hears is derived here from the events the relay emits to their conversation's room
(`view`), once, by the instance that pulled the event (relay/feed.py): the conversation's messages
as the visitor API shows them (`models/webchat.Shown`: no internal ids, metadata or errors), their
statuses, "the business read your messages", "an agent joined/left", the conversation's status,
and the end of a blocked visitor's session (its sockets are then closed). Agents' typing comes from
the typing handler (relay/handlers.py), visitor-side with no user id.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from utalk import logs
from utalk.auth.visitor_tokens import Visitor
from utalk.models.webchat import Shown

from . import rooms
from .auth import AuthError
from .rate_limit import TokenBucket

log = logs.get("relay.visitors")

WEB = "conv_web:"
# The handshake of a socket from a site that is not one of UTALK_CORS_ORIGINS passes only when it
# names a web chat (`?channel=wk_...`, what the widget sends); its origin is kept under this environ
# key and checked at connect against that visitor's channel (`Chats`): agents never pass that way.
ORIGIN_TO_CHECK = "utalk.visitor_origin"
_KEY = re.compile(r"^wk_[0-9a-f]{32}$")
ROUTE_TTL_SECONDS = 60.0
# What a blocked visitor's sockets hear last: each instance closes its own sockets of the room after
# delivering it (relay/visibility.hooked, which sees every instance's emits).
ENDED = "session:ended"
STATUS = {"message:sent": "sent", "message:delivered": "delivered", "message:read": "read",
          "message:failed": "failed"}


@dataclass(eq=False, slots=True)
class VisitorSession:
    visitor: Visitor
    limiter: TokenBucket
    expiry: asyncio.TimerHandle | None = None

    @property
    def room(self) -> str:
        return rooms.visitor(self.visitor.workspace_id, self.visitor.conversation_id)

    @property
    def user_id(self) -> str:
        return self.visitor.address


def admit_handshake(origin: str, environ: dict) -> bool:
    """Whether a handshake from a foreign `origin` may go on to a visitor's connect (marked)."""
    keys = parse_qs(environ.get("QUERY_STRING", "")).get("channel") or [""]
    if not _KEY.match(keys[0]):
        return False
    environ[ORIGIN_TO_CHECK] = origin
    return True


class Chats:
    """What a visitor's connect needs of its web chat, read from the chat's route
    (`channelRoutes/web:<key>`, the document the visitor API reads too) and kept per instance for
    ROUTE_TTL_SECONDS (what the visitor API's route cache also allows itself): the sites that may
    embed it, and the visitors an admin blocked (services/visitor_revocation.block), so a blocked
    visitor's token opens no new socket either, on every instance, within that TTL."""

    def __init__(self, db):
        self.db = db
        self._known: dict[str, tuple[float, frozenset[str], frozenset[str]]] = {}

    async def refusal(self, visitor: Visitor, origin: str | None) -> str | None:
        """The error code to refuse this visitor's connect with (from `origin`, when a foreign
        site's handshake was let through for a chat), or None."""
        _, origins, blocked = await self._route(visitor.channel_key)
        if visitor.visitor_id in blocked:
            return "visitor_blocked"
        if origin is not None and origin.lower() not in origins:
            return "origin_not_allowed"
        return None

    async def _route(self, channel_key: str):
        hit = self._known.get(channel_key)
        if hit is not None and time.monotonic() - hit[0] <= ROUTE_TTL_SECONDS:
            return hit
        try:
            docs = [s async for s in self.db.get_all([self.db.document(f"channelRoutes/web:{channel_key}")],
                                                    field_paths=["allowedOrigins", "blockedVisitors"])]
        except Exception:
            log.exception("web chat route unreadable; visitor connect refused")
            raise AuthError("unavailable") from None
        found = (docs[0].to_dict() or {}) if docs and docs[0].exists else {}
        if len(self._known) > 10_000:
            self._known.clear()
        hit = self._known[channel_key] = (time.monotonic(), frozenset(found.get("allowedOrigins") or ()),
                                          frozenset(found.get("blockedVisitors") or ()))
        return hit


def is_web(conversation_id) -> bool:
    return isinstance(conversation_id, str) and conversation_id.startswith(WEB)


def visitor_of(conversation_id: str) -> str:
    """The visitor id in `conv_web:<visitor>_web:<key>`."""
    return conversation_id[len(WEB):].split("_web:", 1)[0]


def view(event: str, payload, targets) -> tuple[str, dict, str] | None:
    """(event, payload, visitor room) a visitor hears of an event emitted to `targets`, or None."""
    if not isinstance(payload, dict):
        return None
    for room in targets:
        parsed = rooms.parse_conversation(room)
        if parsed is not None and is_web(parsed[1]):
            shown = _shown(event, payload, visitor_of(parsed[1]))
            return (shown[0], shown[1], rooms.visitor(*parsed)) if shown else None
    return None


def _shown(event: str, payload: dict, visitor_id: str) -> tuple[str, dict] | None:
    if event == "message:new":
        message = payload.get("message")
        if not isinstance(message, dict) or message.get("senderType") not in ("customer", "bot", "agent"):
            return None
        try:
            return "message", Shown.of(message, visitor_id).model_dump(mode="json")
        except (KeyError, ValueError):
            return None
    if event in STATUS:
        return "message:status", {"id": payload.get("messageId"), "status": STATUS[event]}
    if event == "conversation:updated":
        reason = payload.get("reason")
        if reason in ("assignment", "bot"):
            agent = payload.get("assignedAgent")
            if agent:
                return "agent:joined", {"agentId": agent}
            # The bot handing over to the queue (services/escalation.start): no agent came or went.
            return None if reason == "bot" and payload.get("botEnabled") is False else ("agent:left", {})
        if reason == "read":              # an agent read the conversation (services/conversations.mark_read)
            return "read", {}
        if reason == "visitor_blocked":   # services/visitor_revocation.block
            return ENDED, {"reason": "blocked"}
        # A status change, the auto-close job's close and a customer's reopen (services/lifecycle.py).
        if reason in ("status", "auto_closed", "reopened") and payload.get("status"):
            return "conversation:status", {"status": payload["status"]}
    return None
