"""Ending web chat visitors' refresh paths: an admin blocks a visitor, a chat's identity secret is
rotated. Visitors' refresh tokens are refresh_tokens' families of kind `visitor` (with their
channel and whether the host site identified them), so each is one query over those families.

A block also ends the visitor's live sockets at once: its `conversation:updated` (reason
`visitor_blocked`) reaches the relay, which tells the visitor's sockets the session ended and closes
them (relay/visitors.py). Its access token (stateless: the send path reads nothing) stops on the
visitor routes within the route cache's TTL (channels/routes.py, 60 s): the block names the visitor
in its channel's route, which those routes read anyway, for as long as a token issued before it
lives; the relay reads the same route at a visitor's connect (relay/visitors.Chats), so within the
same TTL the token opens no new socket either. The widget's refresh is refused at once.
"""
from __future__ import annotations

import time

from google.cloud import firestore

from utalk import errors, events, pubsub
from utalk.auth.visitor_tokens import ACCESS_TTL_SECONDS
from utalk.models.events import ConversationUpdated
from utalk.repositories import refresh_tokens
from utalk.repositories.channels import ChannelRepository
from utalk.repositories.conversations import ConversationRepository

VISITOR_KIND = "visitor"       # refresh_tokens' owner kind of web chat visitors


def owner_of(ws: str, channel_id: str) -> dict:
    """What a visitor's refresh record must hold to be used on this chat."""
    return {"kind": VISITOR_KIND, "workspaceId": ws, "channelId": channel_id}


def block(admin, conversation_id: str) -> dict:
    """An admin blocks a conversation's web visitor: every refresh family of it is revoked and its
    conversation marked, so neither a refresh nor an identified session opens again for it."""
    repo = ConversationRepository(admin.workspace_id)
    conv = repo.get(conversation_id)
    if conv is None:
        raise errors.NotFound("No such conversation", code="conversation_not_found")
    address = (conv.get("customer") or {}).get("address") or ""
    if conv.get("channel") != "web" or not address.startswith("web:"):
        raise errors.ValidationFailed("Only a web chat's visitor can be blocked", code="not_a_web_conversation")
    if not conv.get("visitorBlockedAt"):
        repo.conversations.document(conversation_id).update(
            {"visitorBlockedAt": firestore.SERVER_TIMESTAMP, "visitorBlockedBy": admin.user_id})
    visitor_id = address.removeprefix("web:")
    revoked = refresh_tokens.revoke_families(admin.workspace_id, "blocked", kind=VISITOR_KIND,
                                             channelId=conv.get("channelId"), userId=visitor_id)
    channels = ChannelRepository(admin.workspace_id)
    channel = channels.get(conv["channelId"]) if conv.get("channelId") else None
    if channel and channel.get("type") == "web":   # a deleted chat has no route, and no visitor routes
        now = time.time()
        channels.deny_on_route(channel, visitor_id, now + ACCESS_TTL_SECONDS + 60, now)   # + clock skew
    # Announced on every call, not only the first: a retry after a failed publish must still reach
    # the relay, and a second copy finds no socket left to close.
    pubsub.wait([events.publish("conversation:updated", admin.workspace_id, ConversationUpdated(
        conversationId=conversation_id, reason="visitor_blocked"), conversation_id=conversation_id)])
    return {"conversationId": conversation_id, "blocked": True, "revokedSessions": revoked}


def revoke_identified(workspace_id: str, channel_id: str) -> int:
    """The channel's identity secret was rotated: what the old one vouched for ends (the host site
    signs its visitors again with the new one)."""
    return refresh_tokens.revoke_families(workspace_id, "identity_rotated", kind=VISITOR_KIND, channelId=channel_id,
                                          identified=True)
