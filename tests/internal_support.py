"""Internal functions as their callers reach them: a request that would change something for each
one, the tokens Google's infrastructure attaches (good and every kind of bad), and a snapshot of a
workspace's documents to prove a refused or dropped delivery wrote nothing."""
from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import helpers
from bot_support import bot_runs, escalations, new_agents, new_customer, set_settings
from messaging_support import conv_id, conversation_doc, db, messages, wait_for, workspace

from devstack import oidc
from utalk import manifest
from utalk.config import settings
from utalk.internal_auth import audience

INTERNAL = [fn for fn in manifest.FUNCTIONS if not fn.public]


def push_body(attributes: dict, data: dict | None = None) -> dict:
    """A wrapped Pub/Sub push request body, as Google's push service (and the emulator) send it."""
    raw = json.dumps(data if data is not None else attributes).encode()
    return {"message": {"data": base64.b64encode(raw).decode(), "attributes": attributes,
                        "messageId": str(uuid.uuid4().int)[:16], "publishTime": "2026-01-01T00:00:00Z"},
            "subscription": f"projects/{settings().project_id}/subscriptions/test"}


@dataclass
class Target:
    """An effective call of one internal function: `body` changes something, `changed()` says so."""
    name: str
    workspace_id: str
    body: dict
    changed: Callable[[], bool]


def _quiet_message(api, text: str = "¿A qué hora abren?"):
    """A workspace with one stored customer message that nothing was told about (written straight
    to Firestore: no webhook, no publish), so only a call of an internal function processes it."""
    ws = workspace(api)
    set_settings(ws.id, **{"escalation.timeoutHours": 0})
    customer = new_customer()
    conv, msg_id, now = conv_id(customer, ws.number), f"msg_{uuid.uuid4()}", datetime.now(timezone.utc)
    doc = conversation_doc(ws.id, conv)
    doc.set({"id": conv, "workspaceId": ws.id, "channel": "whatsapp", "channelId": ws.channel["id"],
             "participants": [customer, ws.number], "customer": {"address": customer}, "status": "open",
             "botEnabled": True, "assignedAgent": None, "unreadCount": 1, "messageCount": 1,
             "lastInboundAt": now, "lastMessageAt": now, "createdAt": now, "updatedAt": now})
    doc.collection("messages").document(msg_id).set({
        "id": msg_id, "conversationId": conv, "workspaceId": ws.id, "direction": "inbound", "senderType": "customer",
        "sender": customer, "type": "text", "text": text, "status": "received", "metadata": {},
        "createdAt": now, "updatedAt": now})
    return ws, conv, msg_id


def _bot_run(api) -> Target:
    ws, conv, msg_id = _quiet_message(api)
    return Target("bot_run", ws.id, {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id},
                  lambda: bool(bot_runs(ws.id)))


def _bot_dispatch(api) -> Target:
    ws, conv, msg_id = _quiet_message(api)
    ids = {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id}
    return Target("bot_dispatch", ws.id, push_body(ids), lambda: bool(bot_runs(ws.id)))


def _escalation_timeout(api) -> Target:
    ws, conv, msg_id = _quiet_message(api, "¿alguien?")
    return Target("escalation_timeout", ws.id, {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id},
                  lambda: bool(escalations(ws.id)))


def waiting_escalation(api):
    """A workspace whose escalation waits while an agent with a free slot is online, and nothing
    told the assignment queue (the agent's presence was written without an event)."""
    ws, conv, _ = _quiet_message(api, "hola")
    set_settings(ws.id, **{"bot.enabled": False})
    assert ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={}).status_code == 201
    (_, agent_id), = new_agents(api, ws, 1, status="offline")
    wait_for(lambda: escalations(ws.id) and escalations(ws.id)[0]["status"] == "pending")
    time.sleep(0.5)   # the escalation's own assignment run has found nobody online
    db().collection("workspaces").document(ws.id).collection("agents").document(agent_id).update({"status": "online"})
    return ws


def assigned(ws_id: str) -> bool:
    return any(e["status"] == "assigned" for e in escalations(ws_id))


def _assignment_run(api) -> Target:
    ws = waiting_escalation(api)
    return Target("assignment_run", ws.id, {"workspaceId": ws.id}, lambda: assigned(ws.id))


def _assignment_sweep(api) -> Target:
    ws = waiting_escalation(api)
    return Target("assignment_sweep", ws.id, {}, lambda: assigned(ws.id))


def _message_sender(api) -> Target:
    ws, conv, _ = _quiet_message(api, "hola")
    msg_id = f"msg_{uuid.uuid4()}"
    # A queued outbound message that was never published: only a push can make it go out.
    conversation_doc(ws.id, conv).collection("messages").document(msg_id).set({
        "id": msg_id, "conversationId": conv, "workspaceId": ws.id, "messageId": msg_id[4:], "direction": "outbound",
        "status": "queued", "type": "text", "text": "Hola", "senderType": "agent", "senderId": ws.admin["id"],
        "metadata": {}, "createdAt": datetime.now(timezone.utc)})
    return Target("message_sender", ws.id, push_body({"workspaceId": ws.id, "conversationId": conv,
                                                       "messageId": msg_id}),
                  lambda: next(m for m in messages(ws.id, conv) if m["id"] == msg_id)["status"] != "queued")


def _offer_timeout(api) -> Target:
    ws = waiting_escalation(api)
    esc = _offer_waiting(api, ws.id)
    # Lapsed, and its own task (due in 120 s) has not fired: only a call of offer_timeout returns it.
    _esc_doc(ws.id, esc["id"]).update({"offerExpiresAt": datetime.now(timezone.utc) - timedelta(minutes=1)})
    return Target("offer_timeout", ws.id, {"workspaceId": ws.id, "escalationId": esc["id"], "offerId": esc["offerId"]},
                  lambda: bool((_esc_doc(ws.id, esc["id"]).get().to_dict() or {}).get("skippedAgents")))


def _agent_release(api) -> Target:
    ws = waiting_escalation(api)
    esc = _offer_waiting(api, ws.id)
    # Offline with the offer in hand, written without an event: only agent_release gives it back.
    db().collection("workspaces").document(ws.id).collection("agents").document(esc["toAgentId"]).update(
        {"status": "offline"})
    return Target("agent_release", ws.id, {"workspaceId": ws.id, "agentId": esc["toAgentId"]},
                  lambda: _esc_doc(ws.id, esc["id"]).get().get("status") == "pending")


def _conversations_autoclose(api) -> Target:
    ws, conv, _ = _quiet_message(api, "hola")
    conversation_doc(ws.id, conv).update({"lastMessageAt": datetime.now(timezone.utc) - timedelta(days=31)})
    return Target("conversations_autoclose", ws.id, {},
                  lambda: conversation_doc(ws.id, conv).get().get("status") == "closed")


def _media_retention(api) -> Target:
    from media_support import PNG, upload

    ws, cid, _ = _quiet_message(api, "hola")   # no webhook: no chain still writing when the test looks
    [item] = upload(ws.api, cid, ("old.png", PNG, "image/png")).json()["items"]
    media = db().collection("workspaces").document(ws.id).collection("media").document(item["id"])
    media.update({"createdAt": datetime.now(timezone.utc) - timedelta(days=800)})
    return Target("media_retention", ws.id, {}, lambda: not media.get().exists)


def _analytics_compaction(api) -> Target:
    from utalk.repositories.analytics import AnalyticsRepository

    ws, _, _ = _quiet_message(api, "hola")
    day = (datetime.now(timezone.utc) - timedelta(days=3)).date().isoformat()   # long finished everywhere
    # A counter shard of that day, as an event writes it: only a compaction run folds it into a rollup.
    AnalyticsRepository(ws.id).record(f"scenario:{uuid.uuid4()}", day, "whatsapp", None, {"opened": 1})
    rollup = db().collection("workspaces").document(ws.id).collection("analyticsDaily").document(
        f"{day}~whatsapp~-~r")
    return Target("analytics_compaction", ws.id, {}, lambda: rollup.get().exists)


def _esc_doc(ws_id: str, esc_id: str):
    return db().collection("workspaces").document(ws_id).collection("escalations").document(esc_id)


def _offer_waiting(api, ws_id: str) -> dict:
    """Offer the waiting escalation now (the assignment run nothing asked for), and return it."""
    assert helpers.call_internal(api, "assignment_run", {"workspaceId": ws_id}).status_code == 200
    return wait_for(lambda: next((e for e in escalations(ws_id) if e["status"] == "assigned"), None))


PREPARE: dict[str, Callable] = {
    "bot_run": _bot_run, "bot_dispatch": _bot_dispatch, "escalation_timeout": _escalation_timeout,
    "assignment_run": _assignment_run, "message_sender": _message_sender, "assignment_sweep": _assignment_sweep,
    "offer_timeout": _offer_timeout, "agent_release": _agent_release,
    "conversations_autoclose": _conversations_autoclose, "media_retention": _media_retention,
    "analytics_compaction": _analytics_compaction,
}


def snapshot(workspace_id: str) -> dict[str, dict]:
    """Every document under the workspace (path -> data), to compare before and after."""
    found: dict[str, dict] = {}

    def walk(ref):
        for col in ref.collections():
            for doc in col.stream():
                found[doc.reference.path] = doc.to_dict()
                walk(doc.reference)
    root = db().collection("workspaces").document(workspace_id)
    found[root.path] = (root.get().to_dict() or {})
    walk(root)
    return found


# -- tokens ------------------------------------------------------------------------------------
def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bad_authorizations(name: str) -> list[tuple[str, str | None, int]]:
    """(case, Authorization header, expected status) for every way a caller can be wrong."""
    key = oidc.load()
    invoker = settings().invoker_service_account
    good = oidc.claims(audience(name), invoker)
    other = next(fn.name for fn in INTERNAL if fn.name != name)
    forger = {**oidc._generate(), "kid": key["kid"]}   # another key claiming the stack key's id
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': key['kid']})}.{_b64(good)}."
    return [
        ("missing", None, 401),
        ("not a bearer token", "Basic " + base64.b64encode(b"invoker:secret").decode(), 401),
        ("garbage", "Bearer not-a-jwt", 401),
        ("unsigned", f"Bearer {unsigned}", 401),
        ("forged", f"Bearer {oidc.sign(good, forger)}", 401),
        ("expired", f"Bearer {oidc.sign(oidc.claims(audience(name), invoker, now=time.time() - 7200), key)}", 401),
        ("wrong audience", f"Bearer {oidc.sign(oidc.claims(audience(other), invoker), key)}", 401),
        ("wrong issuer", f"Bearer {oidc.sign({**good, 'iss': 'https://evil.example'}, key)}", 401),
        ("wrong account", f"Bearer {oidc.sign(oidc.claims(audience(name), 'someone@evil.iam.gserviceaccount.com'), key)}", 403),
        ("unverified email", f"Bearer {oidc.sign({**good, 'email_verified': False}, key)}", 403),
    ]


def post(api, name: str, body, authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    return api.session.post(f"{api.base}/_fn/{name}", json=body, headers=headers, timeout=30)


def good_authorization(name: str) -> str:
    return f"Bearer {helpers.invoker_token(name)}"
