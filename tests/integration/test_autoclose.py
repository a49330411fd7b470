"""The auto-close job, called as Cloud Scheduler calls it and continued through Cloud Tasks: over
paged workspaces it closes what has been idle past each workspace's `autoCloseDays` (the default
30, a shorter or a longer setting), completing the escalation and freeing the slot, announced once;
run again, it finds nothing to do."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from bot_support import agent_doc, customer_says, escalations, new_agents, quiet_workspace, set_settings
from helpers import call_internal
from lifecycle_support import Events
from messaging_support import conversation_doc, db, wait_for, workspace


@pytest.fixture
def events(stack):
    reader = Events()
    yield reader
    reader.close()


def _seed(ws, idle_days: list[float]) -> list[str]:
    """Conversations whose last message is that many days old (written directly: set-up only)."""
    now, ids = datetime.now(timezone.utc), []
    batch = db().batch()
    for days in idle_days:
        conv = f"conv_+1555{uuid.uuid4().int % 10**7:07d}_{ws.number}"
        at = now - timedelta(days=days)
        batch.set(conversation_doc(ws.id, conv), {
            "id": conv, "workspaceId": ws.id, "channel": "whatsapp", "channelId": ws.channel["id"],
            "status": "open", "botEnabled": True, "assignedAgent": None, "messageCount": 1, "unreadCount": 0,
            "lastMessageAt": at, "lastInboundAt": at, "createdAt": at, "updatedAt": at})
        ids.append(conv)
    batch.commit()
    return ids


def _statuses(ws_id: str, ids: list[str]) -> dict[str, str]:
    snaps = db().get_all([conversation_doc(ws_id, c) for c in ids])
    return {s.id: s.get("status") for s in snaps}


def _run(api, slot: str, **body):
    r = call_internal(api, "conversations_autoclose", body, headers={"X-CloudScheduler-ScheduleTime": slot})
    assert r.status_code == 200 and r.json()["ok"], r.text
    return r.json()


def test_idle_conversations_close_per_workspace_in_pages_and_a_second_run_does_nothing(api, events):
    default = workspace(api)
    quiet_workspace(default.id)
    due = _seed(default, [31, 45, 200] * 4)                                 # 12 due
    kept = _seed(default, [0.5, 10, 29] * 4)                                 # 12 not yet
    # An escalated conversation, its agent holding it, idle for 40 days.
    conv, _ = customer_says(api, default, "hola")
    [(agent, agent_id)] = new_agents(api, default, 1)
    assert default.api.post(f"/api/v1/conversations/{conv}/escalate", json={}).status_code == 201
    esc = wait_for(lambda: next((e for e in escalations(default.id) if e["status"] == "assigned"), None))
    assert agent.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
    conversation_doc(default.id, conv).update({"lastMessageAt": datetime.now(timezone.utc) - timedelta(days=40)})
    due.append(conv)

    sooner, later = workspace(api), workspace(api)
    set_settings(sooner.id, autoCloseDays=7)
    set_settings(later.id, autoCloseDays=60)
    sooner_due, sooner_kept = _seed(sooner, [8, 20, 29, 90]), _seed(sooner, [1, 6])
    later_due, later_kept = _seed(later, [61, 400]), _seed(later, [31, 59])

    first = _run(api, "2026-05-01T04:15:00Z", pageSize=4, budgetSeconds=0)
    assert first["done"] is False and first["processed"] <= 4
    closing = due + sooner_due + later_due
    # The continuations (queue `jobs`) do the rest, page after page.
    wait_for(lambda: set(_statuses(default.id, due).values()) | set(_statuses(sooner.id, sooner_due).values())
             | set(_statuses(later.id, later_due).values()) == {"closed"}, timeout=90)
    assert set(_statuses(default.id, kept).values()) == {"open"}
    assert set(_statuses(sooner.id, sooner_kept).values()) == {"open"}
    assert set(_statuses(later.id, later_kept).values()) == {"open"}
    [done] = escalations(default.id)
    assert done["status"] == "completed" and done["completion"] == "auto_closed"
    assert agent_doc(default.id, agent_id)["currentConversations"] == 0
    closed = conversation_doc(default.id, conv).get().to_dict()
    assert closed["assignedAgent"] is None and closed["closedAt"] is not None

    # The same slot again (Cloud Scheduler repeating it), and the next slot: the effect of once.
    assert _run(api, "2026-05-01T04:15:00Z")["started"] == 0
    again = _run(api, "2026-05-01T05:15:00Z")
    assert (again["processed"], again["started"], again["done"]) == (0, 0, True)
    announced = wait_for(lambda: (e := [x for w in (default, sooner, later) for x in events.updates(w.id, "auto_closed")])
                         and len({x["payload"]["conversationId"] for x in e}) == len(closing) and e)
    assert len({x["id"] for x in announced}) == len(closing)         # one event per conversation
    assert all(x["payload"]["status"] == "closed" for x in announced)
