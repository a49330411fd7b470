"""The inbox's conversation list: "mine", "unassigned", "waiting" (escalated, not yet accepted) with
the other filters, and the customer lookup by address or name prefix, through HTTP."""
from __future__ import annotations

import pytest
from google.cloud import firestore

from bot_support import customer_says, escalations, new_agents, quiet_workspace, ws_doc
from helpers import every_page
from messaging_support import INBOUND, conv_id, inbound_form, post_signed, wait_for, workspace


def ids(client, **params) -> set[str]:
    r = client.get("/api/v1/conversations", params=params)
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


def _escalate(ws, conv) -> str:
    r = ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={})
    assert r.status_code == 201, r.text
    return r.json()["escalation"]["id"]


@pytest.fixture
def inbox(api):
    """c1 accepted by a1, c2 offered to a1 (not accepted), c3 waiting in the queue (a1 full, a2
    offline), c4 open with nobody."""
    ws = workspace(api)
    quiet_workspace(ws.id)
    c = [customer_says(api, ws, f"hola {i}")[0] for i in range(4)]
    [(a1, id1)] = new_agents(api, ws, 1, capacity=2)
    [(a2, id2)] = new_agents(api, ws, 1, status="offline")
    e1 = _escalate(ws, c[0])
    wait_for(lambda: any(e["id"] == e1 and e["status"] == "assigned" for e in escalations(ws.id)))
    assert a1.post(f"/api/v1/escalations/{e1}/accept").status_code == 200
    e2 = _escalate(ws, c[1])
    wait_for(lambda: any(e["id"] == e2 and e["status"] == "assigned" for e in escalations(ws.id)))
    _escalate(ws, c[2])
    return {"ws": ws, "c": c, "a1": a1, "a2": a2, "id1": id1, "id2": id2}


def test_mine_unassigned_and_waiting_combine_with_the_other_filters(inbox):
    ws, (c1, c2, c3, c4), a1, a2 = inbox["ws"], inbox["c"], inbox["a1"], inbox["a2"]
    assert ids(a1, mine="true") == {c1, c2} and ids(a2, mine="true") == set() and ids(ws.api, mine="true") == set()
    assert ids(a1, unassigned="true") == {c3, c4}
    assert ids(a1, waiting="true") == {c2, c3}
    assert ids(a1, waiting="true", unassigned="true") == {c3}
    assert ids(a1, waiting="true", mine="true") == {c2}
    assert ids(ws.api, status="escalated", unassigned="true") == {c3}
    assert ids(ws.api, status="open", unassigned="true") == {c4}
    assert ids(ws.api, waiting="true", channel="whatsapp") == {c2, c3}
    assert ids(ws.api, waiting="true", botEnabled="true") == set()
    assert ids(ws.api, assignedAgent=inbox["id1"], mine="false") == {c1, c2}
    assert ids(a1, mine="true", assignedAgent=inbox["id1"]) == {c1, c2}
    for bad in ({"mine": "true", "unassigned": "true"}, {"mine": "true", "assignedAgent": inbox["id2"]},
                {"unassigned": "true", "assignedAgent": inbox["id1"]}):
        r = a1.get("/api/v1/conversations", params=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "conflicting_filters", (bad, r.text)
    assert a1.get("/api/v1/conversations", params={"waiting": "maybe"}).status_code == 400
    # The filtered list pages like the plain one.
    seen = [x["id"] for x in every_page(ws.api, "/api/v1/conversations", waiting="true", limit=1)]
    assert sorted(seen) == sorted([c2, c3])


def test_an_agent_limited_to_their_conversations_filters_only_those(inbox):
    ws, (c1, c2, c3, c4), a1, a2 = inbox["ws"], inbox["c"], inbox["a1"], inbox["a2"]
    ws_doc(ws.id).update({"settings.agentVisibility": "assigned"})
    assert ids(a1) == {c1, c2} and ids(a1, unassigned="true") == set()
    assert ids(a1, waiting="true") == {c2} and ids(a2, waiting="true") == set()
    assert ids(a1, assignedAgent=inbox["id2"]) == set() and ids(a1, mine="true") == {c1, c2}
    assert ids(ws.api, unassigned="true") == {c3, c4}   # admins see everything


def _customer(api, ws, phone: str, name: str) -> str:
    r = post_signed(api, INBOUND, inbound_form(ws.number, phone, "hola", ProfileName=name))
    assert r.status_code == 200, r.text
    return conv_id(phone, ws.number)


def _names(client, **params) -> list[str]:
    r = client.get("/api/v1/conversations", params=params)
    assert r.status_code == 200, r.text
    return [c["customer"]["name"] for c in r.json()["items"]]


def test_customer_lookup_by_address_or_name_prefix(api):
    ws = workspace(api, bot=False)
    people = {"Ana María": "+5215500000001", "ana lópez": "+5215500000002", "ANABEL": "+5215510000003",
              "Bruno": "+5215520000004", "Anita": "+447700900005", "José-Luis O'Neil": "+5215530000006"}
    convs = {name: _customer(api, ws, phone, name) for name, phone in people.items()}
    wait_for(lambda: len(ids(ws.api)) == 6)
    # By name prefix, whatever the case or accents typed, in folded-name order.
    assert _names(ws.api, customer="ana") == ["ana lópez", "Ana María", "ANABEL"]
    assert _names(ws.api, customer="aNA") == ["ana lópez", "Ana María", "ANABEL"]
    assert _names(ws.api, customer="ana m") == ["Ana María"] and _names(ws.api, customer="ANI") == ["Anita"]
    assert _names(ws.api, customer="anab") == ["ANABEL"] and _names(ws.api, customer="Ána Ló") == ["ana lópez"]
    assert _names(ws.api, customer="jose luis o") == ["José-Luis O'Neil"]
    assert _names(ws.api, customer="bru") == ["Bruno"] and _names(ws.api, customer="zz") == []
    assert _names(ws.api, customer="¡¿") == []                 # nothing a name could start with
    # By address prefix: a phone number however it is typed.
    assert _names(ws.api, customer="+5215500") == ["Ana María", "ana lópez"]
    assert _names(ws.api, customer="52 155 1") == ["ANABEL"]
    assert _names(ws.api, customer="(44) 7700-900005") == ["Anita"]
    # With the other filters, and a page at a time.
    assert ws.api.post(f"/api/v1/conversations/{convs['ana lópez']}/status", json={"status": "pending"}).status_code == 200
    assert _names(ws.api, customer="ana", status="pending") == ["ana lópez"]
    assert _names(ws.api, customer="+52", status="open") == ["Ana María", "ANABEL", "Bruno", "José-Luis O'Neil"]
    seen = [x["customer"]["name"] for x in every_page(ws.api, "/api/v1/conversations", customer="Ana", limit=1)]
    assert seen == ["ana lópez", "Ana María", "ANABEL"]
    # An activity cursor is not a lookup cursor.
    activity = ws.api.get("/api/v1/conversations", params={"limit": 1}).json()["nextCursor"]
    r = ws.api.get("/api/v1/conversations", params={"customer": "ana", "cursor": activity})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
    assert ws.api.get("/api/v1/conversations", params={"customer": ""}).status_code == 400
    assert ws.api.get("/api/v1/conversations", params={"customer": "x" * 101}).status_code == 400


def test_customer_lookup_stays_inside_what_the_caller_may_see(api):
    ws, other = workspace(api, bot=False), workspace(api, bot=False)
    conv = _customer(api, ws, "+5215530000001", "Carla")
    wait_for(lambda: ids(ws.api))
    assert _names(other.api, customer="carla") == [] and _names(other.api, customer="+521553") == []
    [(agent_api, agent_id)] = new_agents(api, ws, 1, status="offline")
    ws_doc(ws.id).update({"settings.agentVisibility": "assigned"})
    assert _names(agent_api, customer="carla") == []
    assert ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": agent_id}).status_code == 200
    assert _names(agent_api, customer="carla") == ["Carla"]


def test_conversations_stored_before_the_name_key_are_found_after_the_backfill(api):
    import json

    from messaging_support import ops

    ws = workspace(api, bot=False)
    conv = _customer(api, ws, "+5215540000001", "Érica Núñez")
    wait_for(lambda: ids(ws.api))
    ws_doc(ws.id).collection("conversations").document(conv).update({"customer.nameKey": firestore.DELETE_FIELD})
    assert _names(ws.api, customer="erica") == []              # as a conversation from before the field
    dry = ops("backfill-name-keys", "--dry-run")
    assert dry.returncode == 0 and _names(ws.api, customer="erica") == [], dry.stderr
    first = ops("backfill-name-keys")
    assert first.returncode == 0, first.stderr
    assert _names(ws.api, customer="erica n") == ["Érica Núñez"]
    again = json.loads(ops("backfill-name-keys").stdout.strip().splitlines()[-1])
    assert again["outcome"] == "done" and again["updated"] == 0 and again["current"] >= 1
