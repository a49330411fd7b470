"""Business hours through the whole chain, with the stack's clock moved instead of slept: out of
hours the customer who asks for a person is told so and nobody is offered the conversation; at
opening (the task the assignment run scheduled for it) the waiting escalations are offered,
oldest first."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot_support import agent_doc, customer_says, escalations, new_agents, outbound, set_settings
from lifecycle_support import move_clock, now, queued, run_task
from messaging_support import wait_for, workspace

MX = ZoneInfo("America/Mexico_City")
WEEKDAY = [{"open": "09:00", "close": "18:00"}]
CLOSED_TEXT = "Estamos cerrados. Un agente te atenderá mañana a partir de las 9:00."


def _scheduled(ws_id: str) -> list[dict]:
    """The assignment runs of the workspace due later than a minute from now (real time)."""
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    return [t for t in queued("assignment_run", workspaceId=ws_id) if t["due"] > soon]


def test_escalated_out_of_hours_the_customer_is_told_and_it_is_offered_at_opening(api):
    ws = workspace(api)
    set_settings(ws.id, **{"timeZone": "America/Mexico_City", "escalation.timeoutHours": 0, "businessHours": {
        "enabled": True, "outOfHoursMessage": CLOSED_TEXT, "holidays": [],
        "weekly": {**{d: WEEKDAY for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": [], "sun": []}}})
    [(_, agent_id)] = new_agents(api, ws, 1, capacity=1)
    move_clock(datetime(2026, 3, 2, 20, 0, tzinfo=MX))              # Monday 20:00 in Mexico City

    older, _ = customer_says(api, ws, "Quiero hablar con un agente")
    assert [m["text"] for m in wait_for(lambda: outbound(ws.id, older))] == [CLOSED_TEXT]
    [opening] = wait_for(lambda: _scheduled(ws.id))
    younger, _ = customer_says(api, ws, "necesito un asesor, por favor")
    wait_for(lambda: outbound(ws.id, younger))
    wait_for(lambda: len(escalations(ws.id)) == 2)
    opens = datetime(2026, 3, 3, 9, 0, tzinfo=MX)
    # One task for the opening, due then (Cloud Tasks runs on real time: due in as long as the
    # stack's clock has until 09:00), however many runs asked for it.
    assert _scheduled(ws.id) == [opening]
    assert abs((opening["due"] - datetime.now(timezone.utc)).total_seconds()
               - (opens - now()).total_seconds()) < 5
    assert {e["status"] for e in escalations(ws.id)} == {"pending"}
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0     # online, free, and not offered

    move_clock(datetime(2026, 3, 3, 9, 0, 5, tzinfo=MX))
    run_task(opening["name"])
    offered = wait_for(lambda: [e for e in escalations(ws.id) if e["status"] == "assigned"])
    assert [(e["conversationId"], e["toAgentId"]) for e in offered] == [(older, agent_id)]   # oldest first
    assert next(e for e in escalations(ws.id) if e["conversationId"] == younger)["status"] == "pending"
