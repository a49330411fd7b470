"""Web chat visitors: sessions, messages and attachments, history, typing and read, for the visitor API.

A request names its web channel by the public key in its path; the channel's route (with its
allowed origins, widget texts and opened identity secret) comes from the webhooks' route cache
(`channels/routes.py`: no read in the steady state). A visitor's message is one more channel's
inbound item (`channels/web.item`) stored by `services/inbound.store`, so the bot, escalation,
assignment and agents' replies work as on every channel; what reaches the visitor live goes
through the relay's visitor room (relay/visitors.py). Refresh tokens are revocable families of
repositories/refresh_tokens.py (kind `visitor`, services/visitor_revocation.py); an anonymous visitor
who identifies with its own token brings its conversation (repositories/conversation_merge.py).

Limits (429 with Retry-After; rows WEBCHAT_* and VISITOR of utalk/limits.py, counted by
utalk/ratelimit.py): new visitors per IP per hour and per day (each new visitor is a new
conversation), with the per-IP limit http.endpoint adds to every public route; a route taking a
visitor's token counts per visitor instead (limits.BY_VISITOR: `count`, and the send's own).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from utalk import errors, events, limits, logs, pubsub, ratelimit
from utalk.auth import visitor_tokens
from utalk.auth.tokens import InvalidToken
from utalk.auth.visitor_tokens import Visitor
from utalk.channels import routes, web
from utalk.channels.web import conversation_id
from utalk.models.common import utcnow
from utalk.models.events import Typing as TypingEvent
from utalk.models.webchat import HistoryQuery, OpenSession, Shown, VisitorMessage
from utalk.repositories import refresh_tokens
from utalk.services.visitor_revocation import owner_of

log = logs.get("webchat")

SHOWN_SENDERS = ("customer", "bot", "agent")
KEY = re.compile(r"^wk_[0-9a-f]{32}$")   # services/channels.web_key: anything else is no key, without a read


def channel(key: str) -> routes.Entry:
    """The active web channel of a public key (404 for any other key)."""
    entry = routes.by_address("web", key) if KEY.match(key) else None
    if entry is None or entry.doc.get("type") != "web":
        raise errors.NotFound("No such web chat", code="unknown_channel")
    return entry


def allowed_origins(key: str) -> tuple[str, ...]:
    try:
        return tuple(channel(key).doc.get("allowedOrigins") or ())
    except errors.ApiError:
        return ()


def check_origin(entry: routes.Entry, origin: str | None) -> None:
    """A browser's request from a site the channel does not list is refused, not only left without
    CORS headers (a form post or a no-cors fetch would otherwise still be served)."""
    if origin is not None and origin.lower() not in (entry.doc.get("allowedOrigins") or ()):
        raise errors.Forbidden("This site may not embed this chat", code="origin_not_allowed")


def open_session(key: str, body: OpenSession, client_ip: str, origin: str | None, authorization: str = "") -> dict:
    """A new, resumed or identified visitor's session. An identified one opened with the visitor
    token of the anonymous visitor it was (`authorization`) carries that visitor's conversation in."""
    entry = channel(key)
    check_origin(entry, origin)
    ws, channel_id = entry.doc["workspaceId"], entry.doc["channelId"]
    if body.refreshToken:
        if body.identifier or body.identifierHash:
            raise errors.ValidationFailed("Resume with refreshToken alone", code="invalid_session_request")
        return _resume(entry, key, body.refreshToken)
    if body.identifier is not None or body.identifierHash is not None:
        visitor_id = _identified(entry, body)
        _refuse_blocked(ws, conversation_id(visitor_id, key))
    else:
        visitor_id = "v" + secrets.token_hex(16)    # 128 random bits: the conversation is the visitor's alone
    ratelimit.take((limits.WEBCHAT_NEW_VISITORS, client_ip), (limits.WEBCHAT_CONVERSATIONS, client_ip))
    visitor = Visitor(visitor_id, ws, channel_id, key, identified=visitor_id.startswith("u"), expires_at=0)
    merged = _carry_anonymous(entry, key, authorization, visitor) if visitor.identified and authorization else None
    return {**_session(visitor, entry, resumed=False), "mergedFrom": merged}


def _carry_anonymous(entry: routes.Entry, key: str, authorization: str, visitor: Visitor) -> str | None:
    """The anonymous visitor whose token came with a verified identity becomes that identified
    visitor: its messages move into the identified conversation (repositories/conversation_merge.py)
    and its refresh path ends. Only the holder of the anonymous token can bring it, and only into an
    identity the host site signed; an identified token brings nothing (two accounts never mix)."""
    from utalk.repositories.conversation_merge import merge
    from utalk.services.visitor_revocation import VISITOR_KIND

    anonymous, _ = authenticate(key, authorization, None)
    if anonymous.identified:
        return None
    _refuse_blocked(visitor.workspace_id, anonymous.conversation_id)
    customer = web.customer_address(visitor.visitor_id)
    moved = merge(visitor.workspace_id, anonymous.conversation_id, visitor.conversation_id, {
        "id": visitor.conversation_id, "workspaceId": visitor.workspace_id, "channel": "web",
        "channelId": visitor.channel_id, "participants": [customer, web.customer_address(key)],
        "customer": {"address": customer}}, sender=customer)
    if moved is not None:
        # Closed as an admin closes it: the escalation completes, the agent's slot is freed, agents
        # hear it; again on a retry, it changes nothing.
        from utalk.auth.tokens import Principal
        from utalk.services.conversations import set_status

        system = Principal(user_id="system:webchat-merge", role="admin", workspace_id=visitor.workspace_id,
                           tenant_id="", expires_at=0)
        set_status(system, anonymous.conversation_id, "closed")
    refresh_tokens.revoke_families(visitor.workspace_id, "merged", kind=VISITOR_KIND, channelId=visitor.channel_id,
                                   userId=anonymous.visitor_id)
    return anonymous.conversation_id


def _resume(entry: routes.Entry, key: str, token: str) -> dict:
    """The same visitor again: its refresh token rotates (refresh_tokens: a used one presented
    again after the grace revokes its family, as agents' do); a revoked family (signed out,
    blocked, identity secret rotated) is 401 and the widget starts over."""
    ws, channel_id = entry.doc["workspaceId"], entry.doc["channelId"]
    rotation = refresh_tokens.rotate(token, visitor_tokens.REFRESH_TTL_SECONDS, match=owner_of(ws, channel_id))
    if rotation.outcome == "reuse":
        log.warning("visitor refresh token reuse: family revoked", extra={"workspaceId": ws})
    if rotation.outcome != "ok":
        code = "invalid_token" if rotation.outcome == "invalid" else f"refresh_{rotation.outcome}"
        raise errors.Unauthorized("Invalid, expired or revoked refresh token", code=code)
    record = rotation.record
    visitor = Visitor(record["userId"], ws, channel_id, key, identified=record.get("identified") is True,
                      expires_at=0)
    _refuse_blocked(ws, visitor.conversation_id)
    return _session(visitor, entry, resumed=True, refresh=rotation.token)


def sign_out(key: str, token: str, origin: str | None) -> None:
    """The visitor ends the chat: its refresh token's family is revoked (the access token it holds
    lives out its 15 minutes: tokens are stateless on the hot path)."""
    entry = channel(key)
    check_origin(entry, origin)
    if not refresh_tokens.revoke(token, reason="signed_out", match=owner_of(entry.doc["workspaceId"],
                                                                             entry.doc["channelId"])):
        raise errors.Unauthorized("Invalid refresh token", code="invalid_token")


def _refuse_blocked(ws: str, conv_id: str) -> None:
    from utalk.repositories.conversations import ConversationRepository

    if (ConversationRepository(ws).get(conv_id) or {}).get("visitorBlockedAt"):
        raise errors.Forbidden("This visitor may not chat here", code="visitor_blocked")


def _identified(entry: routes.Entry, body: OpenSession) -> str:
    """A visitor the host site signed: the same visitor (and conversation) on every device. An
    unverified claim never is: without a valid hash there is no identified session at all."""
    if not (body.identifier and body.identifierHash):
        raise errors.ValidationFailed("identifier and identifierHash go together", code="invalid_session_request")
    secret = (entry.credentials or {}).get("identitySecret")
    if not secret:
        raise errors.ValidationFailed("This chat does not verify identities", code="identity_not_enabled")
    expected = hmac.new(secret.encode(), body.identifier.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, body.identifierHash.lower()):
        raise errors.Unauthorized("identifierHash does not match", code="invalid_identity")
    # Derived from the channel and identifier, never from the secret: rotating it keeps the history.
    return "u" + hashlib.sha256(f"{entry.doc['channelId']}:{body.identifier}".encode()).hexdigest()[:32]


def _session(visitor: Visitor, entry: routes.Entry, resumed: bool, refresh: str | None = None) -> dict:
    """Tokens for `visitor`: a new refresh family unless `refresh` (a rotation's successor) is given."""
    token, expires = visitor_tokens.issue(visitor)
    if refresh is None:
        refresh = refresh_tokens.start_family({**owner_of(visitor.workspace_id, visitor.channel_id),
                                               "userId": visitor.visitor_id, "identified": visitor.identified},
                                              visitor_tokens.REFRESH_TTL_SECONDS)
    return {"visitorId": visitor.visitor_id, "conversationId": visitor.conversation_id, "token": token,
            "expiresAt": expires, "refreshToken": refresh,
            "refreshExpiresAt": int(time.time()) + visitor_tokens.REFRESH_TTL_SECONDS,
            "identified": visitor.identified, "resumed": resumed, "widget": entry.doc.get("widget") or {}}


def authenticate(key: str, header: str, origin: str | None) -> tuple[Visitor, routes.Entry]:
    """The visitor a request's bearer token names, for this channel only. Agents' tokens (another
    audience and type) fail here as any invalid token does."""
    entry = channel(key)
    check_origin(entry, origin)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("Missing visitor token", code="missing_token")
    try:
        visitor = visitor_tokens.verify(token.strip())
    except InvalidToken:
        raise errors.Unauthorized("Invalid or expired visitor token", code="invalid_token") from None
    if (visitor.workspace_id, visitor.channel_id, visitor.channel_key) != \
            (entry.doc["workspaceId"], entry.doc["channelId"], key):
        raise errors.Unauthorized("This visitor token is for another chat", code="invalid_token")
    if visitor.visitor_id in (entry.doc.get("blockedVisitors") or ()):   # visitor_revocation.block
        raise errors.Forbidden("This visitor may not chat here", code="visitor_blocked")
    return visitor, entry


def count(visitor: Visitor, route: str) -> None:
    """Count a request of `route` against its per-visitor limits (limits.BY_VISITOR; 429 past one)."""
    ratelimit.take(*_counts(visitor, route))


def _counts(visitor: Visitor, route: str) -> tuple:
    return tuple((limit, f"{visitor.workspace_id}/{visitor.visitor_id}") for limit in limits.BY_VISITOR[route])


def send(visitor: Visitor, entry: routes.Entry, body: VisitorMessage) -> tuple[dict, bool]:
    """Store the visitor's message (once per client messageId); (its view, created). Its limit is
    counted here (limits.BY_VISITOR): in the message's own Commit when this instance knows it well
    below (ratelimit.ahead), else exactly, in one Commit before it."""
    from utalk.services import inbound   # the Firestore and Pub/Sub clients: only the routes that store load them

    counts = _counts(visitor, "webchat_send")
    ahead = ratelimit.ahead(*counts)
    if ahead is None:
        ratelimit.take(*counts)
    try:
        media = ()
        if body.mediaId:   # one read, only for an attachment: a text's path stays read-free
            from utalk.services.outbound_media import checked

            [record] = checked(visitor.workspace_id, {"id": visitor.conversation_id, "channel": "web"}, [body.mediaId])
            media = ({"id": record["id"], "kind": record.get("kind")},)
        item = web.item(visitor.visitor_id, visitor.channel_key, body.messageId, body.text, {}, media)
        stored = inbound.store(entry, item, ahead)
    except BaseException:   # a refused attachment, say: it counts all the same
        if ahead:
            ahead.alone()
        raise
    return {"id": stored.message_id, "messageId": body.messageId, "conversationId": stored.conversation_id,
            "status": "received"}, not stored.duplicate


def upload(visitor: Visitor, request) -> list:
    """The visitor's files, into its own conversation only, under the media API's limits
    (services/media_upload.py: allowed types 415, sizes and quota 413, 10 files a minute per
    uploader, here the visitor); agents see them as every upload (media:uploaded, GET /media/{id})."""
    from utalk.auth.tokens import Principal
    from utalk.services.media_upload import upload_multipart

    # The uploader the media records and its rate limit name; no role check runs on it (the
    # conversation is the visitor's own, given as `own_conversation`).
    uploader = Principal(user_id=visitor.address, role="visitor", workspace_id=visitor.workspace_id, tenant_id="",
                         expires_at=visitor.expires_at)
    return upload_multipart(uploader, request, own_conversation=visitor.conversation_id)


def media(visitor: Visitor, media_id: str):
    """A file of the visitor's own conversation (its own or an agent's) with a signed URL; any
    other media is 404, so ids of other conversations cannot be probed."""
    from utalk.services.media_urls import get_in

    return get_in(visitor.workspace_id, visitor.conversation_id, media_id)


def history(visitor: Visitor, q: HistoryQuery) -> dict:
    """The visitor's conversation, newest first (`cursor` pages back), with who answers it now."""
    from utalk.repositories.conversations import ConversationRepository
    from utalk.repositories.messages import MessageRepository
    from utalk.repositories.users import UserRepository

    ws, conv = visitor.workspace_id, visitor.conversation_id
    try:
        stored, cursor = MessageRepository(ws).list(conv, q.limit, q.cursor)
    except errors.NotFound:
        stored, cursor = [], None
    shown = [Shown.of(m, visitor.visitor_id).model_dump(mode="json") for m in stored
             if m.get("senderType") in SHOWN_SENDERS]
    result = {"items": shown, "nextCursor": cursor}
    if not q.cursor:
        conversation = ConversationRepository(ws).get(conv) or {}
        agent_id = conversation.get("assignedAgent")
        user = UserRepository(ws).get(agent_id) if agent_id else None
        result["status"] = conversation.get("status")
        # Each visitor message adds to unreadCount and an agent's read sets it to 0: nothing unread
        # is everything the visitor sent read (read receipts; live, relay/visitors.py `read`).
        result["read"] = not conversation.get("unreadCount") if conversation else None
        result["agent"] = {"id": agent_id, "name": user.get("name")} if user else None
    return result


def typing(visitor: Visitor, on: bool) -> None:
    """The visitor's typing signal, for the agents in the conversation's room."""
    name = "typing:start" if on else "typing:stop"
    pubsub.wait([events.publish(name, visitor.workspace_id, TypingEvent(
        conversationId=visitor.conversation_id, userId=visitor.address), conversation_id=visitor.conversation_id,
        workspace=False)])


def mark_read(visitor: Visitor) -> int:
    """Every message sent to the visitor so far is read (Messenger's read watermark, now)."""
    from utalk.channels.base import Watermark
    from utalk.services.status_callbacks import apply_watermark

    return apply_watermark(Watermark(visitor.workspace_id, visitor.conversation_id, "read", utcnow()))
