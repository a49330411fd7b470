"""Agent occupancy (docs/analytics.md): conversations held vs capacity over time, from the events
that already happen (an agent takes a conversation, closes it, an admin transfers one, the agent
goes offline), with the stack's clock moved across a midnight of the workspace's zone. The
expected seconds are computed from the times the flow stored (acceptance, close, transfer, the
agent's status changes), so the report's figures are checked exactly; redelivered events and a
repeated close change nothing; an agent reads only their own."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot_support import agent_doc, conversation, customer_says, escalations, new_agents, quiet_workspace, ws_doc
from lifecycle_support import move_clock, now
from messaging_support import workspace

TZ = "America/Mexico_City"
MX = ZoneInfo(TZ)
MIDNIGHT = datetime(2026, 12, 1, tzinfo=MX).timestamp()     # between the two days of the test
RANGE = {"from": "2026-11-30", "to": "2026-12-01"}


def ts(value) -> float:
    return value.timestamp()


def split(start: float, end: float) -> tuple[float, float]:
    """Seconds of [start, end) on 2026-11-30 and on 2026-12-01 (Mexico City)."""
    return max(0.0, min(end, MIDNIGHT) - start), max(0.0, end - max(start, MIDNIGHT))


def take(agent, conv: str) -> None:
    r = agent.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": agent_id_of(agent)})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text


def agent_id_of(agent) -> str:
    return agent.get("/api/v1/auth/me").json()["id"]


def test_held_versus_capacity_per_day_counted_once(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    ws_doc(ws.id).update({"settings.timeZone": TZ})
    move_clock(datetime(2026, 11, 30, 20, 0, tzinfo=MX))
    [(agent, agent_id)] = new_agents(api, ws, 1, capacity=4)          # online from its creation
    [(_, other_id)] = new_agents(api, ws, 1, status="offline")
    conv1, _ = customer_says(api, ws, "hola")
    conv2, _ = customer_says(api, ws, "buenas")
    take(agent, conv1)
    move_clock(datetime(2026, 11, 30, 23, 0, tzinfo=MX))
    take(agent, conv2)
    move_clock(datetime(2026, 12, 1, 1, 30, tzinfo=MX))
    close = lambda: agent.post(f"/api/v1/conversations/{conv1}/status", json={"status": "closed"})
    assert close().status_code == 200
    move_clock(datetime(2026, 12, 1, 2, 0, tzinfo=MX))
    transfer = lambda: ws.api.post(f"/api/v1/conversations/{conv2}/assign", json={"agentId": other_id})
    assert transfer().status_code == 200
    move_clock(datetime(2026, 12, 1, 3, 0, tzinfo=MX))
    offline = lambda: agent.patch("/api/v1/agents/me/status", json={"status": "offline"})
    assert offline().status_code == 200
    profile = agent_doc(ws.id, agent_id)     # (a repeated status stamps its own time: read it now)
    # Again: the close, the transfer, the status; none of them is a new span.
    assert close().status_code == 200 and transfer().status_code == 200 and offline().status_code == 200

    # Counted holds leave the running-holds query (which a report makes): nobody holds these now.
    assert all("heldBy" not in conversation(ws.id, c)["analytics"] for c in (conv1, conv2))
    accepted = {e["conversationId"]: e for e in escalations(ws.id)}
    a1, c1 = ts(accepted[conv1]["acceptedAt"]), ts(conversation(ws.id, conv1)["closedAt"])
    a2, t2 = ts(accepted[conv2]["acceptedAt"]), ts(accepted[conv2]["assignedAt"])
    on, off = ts(profile["createdAt"]), ts(profile["statusChangedAt"])
    assert MIDNIGHT - 4 * 3600 < a1 < a2 < MIDNIGHT < c1 < t2 < off    # the clock did what the test says
    held_days = [x + y for x, y in zip(split(a1, c1), split(a2, t2))]
    online_days = list(split(on, off))

    def figures(reader, **params):
        r = reader.get("/api/v1/analytics/agents", params={**RANGE, **params})
        assert r.status_code == 200, r.text
        return r.json()

    report = figures(ws.api, agentId=agent_id)
    [mine] = report["agents"]
    held, online = sum(held_days), sum(online_days)
    assert mine["occupancy"] == pytest.approx({"heldSeconds": held, "onlineSeconds": online,
                                               "capacitySeconds": 4 * online, "averageHeld": round(held / online, 4),
                                               "occupancy": round(held / (4 * online), 4)}, abs=2e-3)
    series = {p["period"]: p for p in report["series"]}
    for day, h, o in zip(("2026-11-30", "2026-12-01"), held_days, online_days):
        assert series[day]["heldSeconds"] == pytest.approx(h, abs=2e-3)
        assert series[day]["capacitySeconds"] == pytest.approx(4 * o, abs=2e-3)
        assert series[day]["occupancy"] == pytest.approx(round(h / (4 * o), 4), abs=1e-4)
    # The agent reads the same of themselves, and nobody else's.
    own = figures(agent)
    assert own["agents"] == report["agents"] and own["series"] == report["series"]
    r = agent.get("/api/v1/analytics/agents", params={**RANGE, "agentId": other_id})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_figures"
    # The CSV: held seconds on the conversation's channel, capacity on the agent's own row.
    r = ws.api.get("/api/v1/analytics/export.csv", params=RANGE)
    rows = {(row["day"], row["channel"], row["agent"]): row for row in csv.DictReader(io.StringIO(r.text))}
    for day, h, o in zip(("2026-11-30", "2026-12-01"), held_days, online_days):
        assert float(rows[(day, "whatsapp", agent_id)]["heldSeconds"]) == pytest.approx(h, abs=2e-3)
        assert float(rows[(day, "", agent_id)]["capacitySeconds"]) == pytest.approx(4 * o, abs=2e-3)


def test_a_hold_still_running_counts_up_to_now(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    [(agent, agent_id)] = new_agents(api, ws, 1, capacity=2)
    conv, _ = customer_says(api, ws, "hola")
    take(agent, conv)
    accepted = conversation(ws.id, conv)["analytics"]["acceptedAt"]     # epoch seconds
    created = ts(agent_doc(ws.id, agent_id)["createdAt"])
    day = datetime.fromtimestamp(accepted, ZoneInfo("UTC")).date().isoformat()
    before = now().timestamp()
    r = agent.get("/api/v1/analytics/agents", params={"from": day, "to": day})
    after = now().timestamp()
    occ = r.json()["agents"][0]["occupancy"]
    assert before - accepted - 1 <= occ["heldSeconds"] <= after - accepted + 1
    assert 2 * (before - created - 1) <= occ["capacitySeconds"] <= 2 * (after - created + 1)
