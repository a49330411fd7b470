"""The documents and identities of the rules matrix: workspaces of two tenants, global collections.

ws_a shows agents every conversation (no setting: the default "all"); ws_b shows agents only the
conversations assigned to them; ws_c has an unknown visibility value (must act as "assigned");
ws_ghost has conversations but no workspace document (agents get "assigned", never "all").
ws_a and ws_b hold one document in each collection a client might try, protected or not, so every
(identity, document) pair of the matrix exists to be asked for.
Every user the server granted has an access document (workspaces/{ws}/access/{uid}: role, status),
as repositories/access.py writes it; the rules check it on every read.
"""
from __future__ import annotations

import os

from google.cloud import firestore

WS_A, WS_B, WS_C, WS_GHOST = "ws_a", "ws_b", "ws_c", "ws_ghost"
TENANT_A, TENANT_B = "tenant_a", "tenant_b"

# Workspace documents (ws_ghost has none on purpose).
WORKSPACES = {
    WS_A: {"tenantId": TENANT_A, "name": "A", "settings": {}},
    WS_B: {"tenantId": TENANT_B, "name": "B", "settings": {"agentVisibility": "assigned"}},
    WS_C: {"tenantId": TENANT_B, "name": "C", "settings": {"agentVisibility": "everyone"}},
}

# Conversations per workspace: id -> assigned agent (None = in the bot's hands).
CONVERSATIONS = {
    WS_A: {"conv_a1": "agent_a1", "conv_a2": None},
    WS_B: {"conv_b1": "agent_b1", "conv_b2": "agent_b2", "conv_b3": None},
    WS_C: {"conv_c1": "agent_c1", "conv_c2": None},
    WS_GHOST: {"conv_g1": "agent_g1", "conv_g2": None},
}
FULL_WORKSPACES = (WS_A, WS_B)  # the ones that also hold every other collection

# Who asks: name -> claims of the unsigned ID token (None = not signed in).
IDENTITIES = {
    "admin_a": {"uid": "admin_a", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "admin"},
    "agent_a1": {"uid": "agent_a1", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "agent"},
    "bot_a": {"uid": "bot_a", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "bot"},
    "service_a": {"uid": "service_a", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "service"},
    "admin_b": {"uid": "admin_b", "workspaceId": WS_B, "tenantId": TENANT_B, "role": "admin"},
    "agent_b1": {"uid": "agent_b1", "workspaceId": WS_B, "tenantId": TENANT_B, "role": "agent"},
    "agent_c1": {"uid": "agent_c1", "workspaceId": WS_C, "tenantId": TENANT_B, "role": "agent"},
    "agent_g1": {"uid": "agent_g1", "workspaceId": WS_GHOST, "tenantId": TENANT_B, "role": "agent"},
    # Right claims, wrong sign-in: not a session our custom token started.
    "admin_a_password": {"uid": "admin_a", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "admin",
                         "provider": "password"},
    # A custom-token session without our claims (e.g. minted by some other tool).
    "no_claims": {"uid": "admin_a"},
    # The role claim in a different case or unknown: never matches.
    "role_unknown": {"uid": "admin_a", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "ADMIN"},
    # Tokens minted before the server changed its mind (ACCESS below): deactivated, demoted, or
    # a user with no access document at all.
    "agent_a_deactivated": {"uid": "agent_a_off", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "agent"},
    "admin_a_demoted": {"uid": "admin_a_old", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "admin"},
    "agent_a_no_access": {"uid": "agent_a_unknown", "workspaceId": WS_A, "tenantId": TENANT_A, "role": "agent"},
    "anonymous": None,
}

# What the server decided for each user: (workspace, uid) -> access document. Bots and services
# have none (they read nothing anyway).
ACCESS = {
    (WS_A, "admin_a"): {"role": "admin", "status": "active"},
    (WS_A, "agent_a1"): {"role": "agent", "status": "active"},
    (WS_A, "agent_a_off"): {"role": "agent", "status": "inactive"},
    (WS_A, "admin_a_old"): {"role": "agent", "status": "active"},
    (WS_B, "admin_b"): {"role": "admin", "status": "active"},
    (WS_B, "agent_b1"): {"role": "agent", "status": "active"},
    (WS_C, "agent_c1"): {"role": "agent", "status": "active"},
    (WS_GHOST, "agent_g1"): {"role": "agent", "status": "active"},
}

# Documents of each workspace besides conversations/messages: the collections rules must cover.
WORKSPACE_DOCS = {
    "users/u1": {"email": "u1@example.com", "role": "agent", "passwordHash": "$argon2id$v=19$..."},
    "agents/agent_1": {"status": "online", "maxConversations": 5, "currentConversations": 1},
    "channels/ch_1": {"type": "whatsapp", "address": "+15550001", "credentialsRef": "secrets/twilio"},
    "secrets/twilio": {"authToken": "secret-token"},
    # Sealed channel credentials (services/channels.py): server only, even for the workspace's admin.
    "channelSecrets/ch_1": {"workspaceId": "ws", "channelId": "ch_1", "kid": "k", "dataKey": b"\x00" * 60,
                            "fields": {"authToken": b"\x00" * 60}},
    "idempotency/key_1": {"handler": "webhooks_twilio", "at": "2026-01-01T00:00:00Z"},
    "botRuns/run_1": {"tokens": 120, "costUsd": 0.001, "prompt": "system prompt ..."},
    "escalations/esc_1": {"reason": "keyword"},
    "media/media_1": {"path": "ws/media_1.jpg"},
    # Who changed the settings and what (services/settings.py): server only, even for the admin.
    "auditLog/aud_1": {"action": "settings.updated", "actorId": "admin_a",
                       "changes": [{"path": "autoCloseDays", "before": 30, "after": 10}]},
    # The workspace's feature flag overrides (services/flags.py): set through the API, server only.
    "flagOverrides/analytics.export_agent_names": {"key": "analytics.export_agent_names", "enabled": True},
}

GLOBAL_DOCS = {
    "tenants/tenant_a": {"name": "Tenant A"},
    "userEmails/u1@example.com": {"userId": "u1", "workspaceId": WS_A, "tenantId": TENANT_A},
    "refreshTokens/jti_1": {"hash": "abc", "familyId": "fam_1"},
    "tokenFamilies/fam_1": {"userId": "u1", "revoked": False},
    "rateLimits/login:1.2.3.4": {"count": 3},
    "channelRoutes/whatsapp:+15550001": {"workspaceId": WS_A, "channelId": "ch_1"},
    # Feature flag definitions and their usage counters (operators only: scripts/ops).
    "featureFlags/analytics.export_agent_names": {"percent": 10, "enabled": True, "tenants": {TENANT_A: True}},
    "featureFlags/analytics.export_agent_names/usage/2026-01-01~0": {"day": "2026-01-01", "on": 3, "off": 9},
}


def messages_of(ws: str, conv: str) -> list[str]:
    return [f"workspaces/{ws}/conversations/{conv}/messages/msg_{conv}_{i}" for i in (1, 2)]


def seed() -> None:
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    batch = db.batch()
    for ws, data in WORKSPACES.items():
        batch.set(db.document(f"workspaces/{ws}"), data)
    for ws in FULL_WORKSPACES:
        for doc, data in WORKSPACE_DOCS.items():
            batch.set(db.document(f"workspaces/{ws}/{doc}"), data)
    for ws, convs in CONVERSATIONS.items():
        for conv, agent in convs.items():
            batch.set(db.document(f"workspaces/{ws}/conversations/{conv}"),
                      {"workspaceId": ws, "assignedAgent": agent, "status": "open"})
            for path in messages_of(ws, conv):
                batch.set(db.document(path), {"workspaceId": ws, "conversationId": conv, "text": "hola"})
    for doc, data in GLOBAL_DOCS.items():
        batch.set(db.document(doc), data)
    for (ws, uid), data in ACCESS.items():
        batch.set(db.document(access_path(ws, uid)), data)
    batch.commit()


def access_path(ws: str, uid: str) -> str:
    return f"workspaces/{ws}/access/{uid}"
