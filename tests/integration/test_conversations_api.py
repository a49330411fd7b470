"""Conversations API: list filters and cursor pagination, get, status machine, read, isolation."""
from __future__ import annotations

import uuid

from messaging_support import INBOUND, agent, conv_id, conversation_doc, inbound_form, post_signed, workspace


def _customers(api, ws, n: int) -> list[str]:
    phones = [f"+52155500000{i:02d}" for i in range(n)]
    for p in phones:
        assert post_signed(api, INBOUND, inbound_form(ws.number, p, f"hola de {p}")).status_code == 200
    return [conv_id(p, ws.number) for p in phones]


def test_list_is_ordered_by_activity_with_cursor_pagination(api):
    ws = workspace(api, bot=False)
    ids = _customers(api, ws, 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = ws.api.get("/api/v1/conversations", params=params).json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest activity first, every conversation once


def test_filters(api):
    ws = workspace(api, bot=False)
    a, b, c = _customers(api, ws, 3)
    assert ws.api.post(f"/api/v1/conversations/{b}/status", json={"status": "pending"}).status_code == 200
    conversation_doc(ws.id, c).update({"botEnabled": False, "assignedAgent": "u1"})
    get = lambda **q: [x["id"] for x in ws.api.get("/api/v1/conversations", params=q).json()["items"]]
    assert get(status="pending") == [b]
    assert set(get(status="open")) == {a, c}
    assert get(botEnabled="false") == [c]
    assert get(assignedAgent="u1") == [c]
    assert len(get(channel="whatsapp")) == 3
    assert ws.api.get("/api/v1/conversations", params={"status": "bogus"}).status_code == 400
    assert ws.api.get("/api/v1/conversations", params={"cursor": "!!"}).status_code == 400


def test_get_and_status_machine(api):
    ws = workspace(api, bot=False)
    [cid] = _customers(api, ws, 1)
    conv = ws.api.get(f"/api/v1/conversations/{cid}").json()
    assert conv["status"] == "open" and conv["unreadCount"] == 1 and conv["customer"]["name"] == "Cliente"
    assert conv["createdAt"].endswith("Z")
    path = f"/api/v1/conversations/{cid}/status"
    assert ws.api.post(path, json={"status": "closed"}).json()["status"] == "closed"
    r = ws.api.post(path, json={"status": "pending"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert ws.api.post(path, json={"status": "open"}).json()["status"] == "open"
    assert ws.api.post(path, json={"status": "weird"}).status_code == 422


def test_mark_read_resets_unread(api):
    ws = workspace(api, bot=False)
    [cid] = _customers(api, ws, 1)
    post_signed(api, INBOUND, inbound_form(ws.number, "+5215550000000", "otra vez"))
    assert ws.api.get(f"/api/v1/conversations/{cid}").json()["unreadCount"] == 2
    r = ws.api.post(f"/api/v1/conversations/{cid}/read")
    assert r.status_code == 200 and r.json()["unreadCount"] == 0


def test_cross_workspace_probes_are_404(api):
    ws, other = workspace(api, bot=False), workspace(api, bot=False)
    [cid] = _customers(api, ws, 1)
    assert other.api.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert other.api.get(f"/api/v1/conversations/{cid}/messages").status_code == 404
    assert other.api.post(f"/api/v1/conversations/{cid}/status", json={"status": "closed"}).status_code == 404
    assert other.api.post(f"/api/v1/conversations/{cid}/read").status_code == 404
    assert other.api.get("/api/v1/conversations").json()["items"] == []
    assert ws.api.get(f"/api/v1/conversations/{cid}").json()["status"] == "open"


def test_requires_auth_and_agents_can_read(api):
    ws = workspace(api, bot=False)
    [cid] = _customers(api, ws, 1)
    assert api.get("/api/v1/conversations").status_code == 401
    agent_api, _ = agent(ws, api)
    assert agent_api.get(f"/api/v1/conversations/{cid}").status_code == 200
    assert agent_api.get("/api/v1/conversations/conv_nope").status_code == 404


def test_agents_see_only_assigned_conversations_when_the_workspace_says_so(api):
    """settings.agentVisibility = "assigned" (as firestore.rules enforce for direct reads)."""
    ws = workspace(api, bot=False)
    mine, other = _customers(api, ws, 2)
    agent_api, agent_id = agent(ws, api)
    conversation_doc(ws.id, mine).update({"assignedAgent": agent_id})
    assert len(agent_api.get("/api/v1/conversations").json()["items"]) == 2  # default "all"
    from messaging_support import db
    db().collection("workspaces").document(ws.id).update({"settings.agentVisibility": "assigned"})
    assert [c["id"] for c in agent_api.get("/api/v1/conversations").json()["items"]] == [mine]
    assert agent_api.get("/api/v1/conversations", params={"assignedAgent": "someone"}).json()["items"] == []
    assert agent_api.get(f"/api/v1/conversations/{other}").status_code == 404
    assert agent_api.get(f"/api/v1/conversations/{other}/messages").status_code == 404
    assert agent_api.post(f"/api/v1/conversations/{other}/read").status_code == 404
    assert agent_api.post(f"/api/v1/conversations/{other}/status", json={"status": "closed"}).status_code == 404
    r = agent_api.post("/api/v1/messages", json={"conversationId": other, "messageId": str(uuid.uuid4()),
                                                 "text": "hola"})
    assert r.status_code == 404
    assert agent_api.get(f"/api/v1/conversations/{mine}").status_code == 200
    assert len(ws.api.get("/api/v1/conversations").json()["items"]) == 2  # admins see everything
