"""Analytics through the real chain (webhook -> bot_dispatch -> bot_run -> sender; escalation,
offers, accept/reject, close, reopen) and the report endpoints: every KPI's exact value, from the
times the flow stored (no clock is moved: the expected durations are computed from the stored
message, escalation and conversation timestamps), redelivered events changing nothing, and who may
read what."""
from __future__ import annotations

import base64
import csv
import io
import json
import math
from zoneinfo import ZoneInfo

from bot_support import conversation, customer_says, escalations, new_agents, outbound, set_settings, ws_doc
from helpers import call_internal
from messaging_support import messages, wait_for, workspace

# The documented duration buckets (docs/analytics.md): a percentile is its bucket's upper bound.
BOUNDS = (5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
          10800, 14400, 21600, 28800, 43200, 86400, 172800, 259200, 604800)
FAQ = [{"keywords": ["horario"], "answer": "Abrimos de 9 a 18 h.", "intent": "hours"}]


def bound(seconds: float) -> float | None:
    return next((float(b) for b in BOUNDS if seconds <= b), None)


def ts(value) -> float:
    return value.timestamp()


def local_day(value, tz: str = "UTC") -> str:
    return value.astimezone(ZoneInfo(tz)).date().isoformat()


def report(api, name: str, **params):
    r = api.get(f"/api/v1/analytics/{name}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def inbound(ws_id: str, conv: str, msg_id: str) -> dict:
    return next(m for m in messages(ws_id, conv) if m["id"] == msg_id)


def push(ids: dict) -> dict:
    return {"message": {"data": base64.b64encode(json.dumps(ids).encode()).decode(), "messageId": "1",
                        "attributes": ids}, "subscription": "projects/p/subscriptions/s"}


def redeliver_message_chain(api, ws_id: str, conv: str, inbound_id: str, sent: list[dict]) -> None:
    """Pub/Sub and Cloud Tasks deliver again: message-received, the bot run, every outbound message."""
    ids = {"workspaceId": ws_id, "conversationId": conv, "messageId": inbound_id}
    for _ in range(2):
        assert call_internal(api, "bot_dispatch", push(ids)).status_code in (200, 204)
        assert call_internal(api, "bot_run", ids).status_code == 200
        for m in sent:
            r = call_internal(api, "message_sender", push({**ids, "messageId": m["id"]}))
            assert r.status_code in (200, 204), r.text


def duration(n: int, total: float, *samples: float) -> dict:
    """What a report says of `n` durations summing to `total` (median / p90 from the samples)."""
    ordered = sorted(samples)
    rank = lambda p: ordered[max(1, math.ceil(p * n)) - 1]   # the ceil(p * n)-th smallest
    return {"n": n, "mean": round(total / n, 3), "median": bound(rank(0.5)), "p90": bound(rank(0.9))}


def steady(agents_report: dict) -> dict:
    """The agents report without its occupancy, which grows while agents are online (the running
    span counts up to now: tests/integration/test_analytics_occupancy.py checks it)."""
    moving = ("heldSeconds", "capacitySeconds", "occupancy")
    return {**agents_report,
            "agents": [{k: v for k, v in a.items() if k != "occupancy"} for a in agents_report["agents"]],
            "series": [{k: v for k, v in p.items() if k not in moving} for p in agents_report["series"]]}


def dist(d: dict) -> dict:
    return {k: d[k] for k in ("n", "mean", "median", "p90")}


def test_bot_only_conversation_is_counted_once_with_its_exact_times(api):
    ws = workspace(api)
    tz = "America/Mexico_City"
    set_settings(ws.id, **{"bot.provider": "offline", "escalation.timeoutHours": 0, "bot.faq": FAQ})
    ws_doc(ws.id).update({"settings.timeZone": tz})
    conv, msg_id = customer_says(api, ws, "¿Cuál es su horario?")
    [reply] = wait_for(lambda: [m for m in outbound(ws.id, conv) if m["status"] in ("sent", "delivered", "read")])
    # Pub/Sub and Cloud Tasks deliver everything again while the bot still answers (the run finds
    # its BotRun), and the conversation is closed twice: all of it counted once, as asserted below.
    redeliver_message_chain(api, ws.id, conv, msg_id, [reply])
    for _ in range(2):
        r = ws.api.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"})
        assert r.status_code == 200, r.text
    assert len(outbound(ws.id, conv)) == 1
    first_msg, closed = inbound(ws.id, conv, msg_id), conversation(ws.id, conv)
    opened, answered, done = ts(first_msg["createdAt"]), ts(reply["createdAt"]), ts(closed["closedAt"])
    day = local_day(first_msg["createdAt"], tz)
    [run] = wait_for(lambda: [r for r in _bot_runs(ws.id) if r.get("outcome") == "replied"])
    q = {"from": day, "to": day}

    def figures():
        return report(ws.api, "overview", **q), report(ws.api, "conversations", **q), report(ws.api, "bot", **q)

    overview, convs, bot = figures()
    assert overview["range"] == {"from": day, "to": day, "timeZone": tz, "interval": "day", "channel": None,
                                 "agentId": None}
    assert overview["totals"] == {"opened": 1, "reopened": 0, "closed": 1, "contained": 1, "escalations": 0,
                                  "messagesIn": 1, "messagesBot": 1, "messagesAgent": 0}
    assert overview["rates"] == {"containment": 1.0, "reopen": 0.0, "offerAcceptance": None}
    assert dist(overview["firstResponse"]) == duration(1, answered - opened, answered - opened)
    assert dist(overview["resolution"]) == duration(1, done - opened, done - opened)
    assert overview["firstHumanResponse"]["n"] == 0 and overview["queueWait"]["n"] == 0
    assert [p["period"] for p in overview["series"]] == [day] and overview["series"][0]["opened"] == 1
    assert convs["firstResponseBy"] == {"bot": 1} and convs["firstResponseInHours"]["n"] == 1 \
        and convs["firstResponseOutOfHours"]["n"] == 0 and convs["escalationsByReason"] == {}
    assert {k: bot[k] for k in ("runs", "failed", "tokensIn", "tokensOut", "costUsd")} == {
        "runs": 1, "failed": 0, "tokensIn": run["tokensIn"], "tokensOut": run["tokensOut"],
        "costUsd": run["costUsd"]}
    assert bot["byModel"][run["model"]]["runs"] == 1 and bot["latency"]["n"] == 1 and bot["containment"] == 1.0
    # Another channel, or the day before, has nothing.
    assert report(ws.api, "overview", channel="facebook", **q)["totals"]["opened"] == 0
    # Delivered once more after the close: the same figures.
    redeliver_message_chain(api, ws.id, conv, msg_id, [reply])
    assert figures() == (overview, convs, bot)


def _bot_runs(ws_id: str) -> list[dict]:
    return [d.to_dict() for d in ws_doc(ws_id).collection("botRuns").stream()]


def test_escalated_conversation_with_a_rejected_offer(api):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "offline", "escalation.timeoutHours": 0,
                            "escalation.keywords": ["asesor"]})
    (a1, id1), (a2, id2) = new_agents(api, ws, 2)
    conv, msg_id = customer_says(api, ws, "quiero un asesor")
    esc = wait_for(lambda: next((e for e in escalations(ws.id) if e["status"] == "assigned"), None))
    (first, first_id), (taker, taker_id) = ((a1, id1), (a2, id2)) if esc["toAgentId"] == id1 else ((a2, id2), (a1, id1))
    assert first.post(f"/api/v1/escalations/{esc['id']}/reject", json={"reason": "busy"}).status_code == 200
    wait_for(lambda: next((e for e in escalations(ws.id) if e.get("toAgentId") == taker_id), None))
    assert taker.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
    r = taker.post("/api/v1/messages", json={"conversationId": conv, "messageId": "0b0e4f5e-3c55-4c1c-9d7f-8e1b2a3c4d5e",
                                             "text": "Hola, soy Ana"})
    assert r.status_code in (200, 201), r.text
    wait_for(lambda: all(m["status"] in ("sent", "delivered", "read") for m in outbound(ws.id, conv, "agent")
                         + outbound(ws.id, conv, "bot")) and outbound(ws.id, conv, "agent"))
    assert taker.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"}).status_code == 200
    [holding], [answer] = outbound(ws.id, conv, "bot"), outbound(ws.id, conv, "agent")
    [stored] = escalations(ws.id)
    first_msg, closed = inbound(ws.id, conv, msg_id), conversation(ws.id, conv)
    opened, escalated, accepted = ts(first_msg["createdAt"]), ts(stored["createdAt"]), ts(stored["acceptedAt"])
    day = local_day(first_msg["createdAt"])
    q = {"from": day, "to": day}

    def figures():
        return (report(ws.api, "overview", **q), report(ws.api, "conversations", **q),
                steady(report(ws.api, "agents", **q)), steady(report(taker, "agents", **q)))

    overview, convs, agents, own = figures()
    assert overview["totals"] == {"opened": 1, "reopened": 0, "closed": 1, "contained": 0, "escalations": 1,
                                  "messagesIn": 1, "messagesBot": 1, "messagesAgent": 1}
    assert overview["rates"] == {"containment": 0.0, "reopen": 0.0, "offerAcceptance": 0.5}
    frt, fhrt = ts(holding["createdAt"]) - opened, ts(answer["createdAt"]) - escalated
    assert dist(overview["firstResponse"]) == duration(1, frt, frt)
    assert dist(overview["firstHumanResponse"]) == duration(1, fhrt, fhrt)
    assert dist(overview["queueWait"]) == duration(1, accepted - escalated, accepted - escalated)
    assert dist(overview["resolution"]) == duration(1, ts(closed["closedAt"]) - opened, ts(closed["closedAt"]) - opened)
    assert convs["escalationsByReason"] == {"keyword": 1} and convs["firstResponseBy"] == {"bot": 1}
    assert convs["offers"] == {"offers": 2, "accepted": 1, "rejected": 1}
    by_agent = {a["agentId"]: a for a in agents["agents"]}
    assert set(by_agent) == {first_id, taker_id}
    assert {k: by_agent[taker_id][k] for k in ("handled", "replies", "closed", "offers")} == {
        "handled": 1, "replies": 1, "closed": 1, "offers": {"offers": 1, "accepted": 1, "rejected": 0}}
    assert by_agent[first_id]["offers"] == {"offers": 1, "accepted": 0, "rejected": 1} \
        and by_agent[first_id]["handled"] == 0
    assert dist(by_agent[taker_id]["firstHumanResponse"]) == duration(1, fhrt, fhrt)
    assert by_agent[taker_id]["load"] == {"status": "online", "currentConversations": 0, "maxConversations": 10,
                                          "occupancy": 0.0}
    # An agent reads their own figures only; the workspace's reports are the admins'.
    assert [a["agentId"] for a in own["agents"]] == [taker_id] and own["agents"][0] == by_agent[taker_id]
    r = taker.get("/api/v1/analytics/agents", params={"agentId": first_id, **q})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_figures"
    for name in ("overview", "conversations", "bot", "export.csv"):
        assert taker.get(f"/api/v1/analytics/{name}", params=q).status_code == 403
    # The CSV: one row per day x channel x agent.
    r = ws.api.get("/api/v1/analytics/export.csv", params=q)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = {(row["day"], row["channel"], row["agent"]): row for row in csv.DictReader(io.StringIO(r.text))}
    # (and each online agent's capacity time, which has no channel: test_analytics_occupancy.py)
    assert set(rows) == {(day, "whatsapp", ""), (day, "whatsapp", first_id), (day, "whatsapp", taker_id),
                         (day, "", first_id), (day, "", taker_id)}
    none, taker_row = rows[(day, "whatsapp", "")], rows[(day, "whatsapp", taker_id)]
    assert (none["opened"], none["messagesIn"], none["messagesBot"], none["escalations"]) == ("1", "1", "1", "1")
    assert (taker_row["accepted"], taker_row["messagesAgent"], taker_row["closed"], taker_row["messagesIn"]) == \
        ("1", "1", "1", "")
    # Everything again: the webhook's chain, the offer answers, assignment, the close.
    redeliver_message_chain(api, ws.id, conv, msg_id, [holding, answer])
    assert first.post(f"/api/v1/escalations/{esc['id']}/reject", json={}).status_code in (200, 409)
    assert taker.post(f"/api/v1/escalations/{esc['id']}/accept").status_code in (200, 409)
    assert call_internal(api, "assignment_run", {"workspaceId": ws.id}).status_code == 200
    assert taker.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"}).status_code == 200
    assert figures() == (overview, convs, agents, own)


def test_reopened_conversation_starts_a_new_episode(api):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.enabled": False, "escalation.timeoutHours": 0})
    conv, msg_id = customer_says(api, ws, "hola")
    wait_for(lambda: (conversation(ws.id, conv).get("analytics") or {}).get("openedAt"))   # bot_dispatch ran
    status = lambda s: ws.api.post(f"/api/v1/conversations/{conv}/status", json={"status": s})
    assert status("closed").status_code == 200
    first_close = ts(conversation(ws.id, conv)["closedAt"])
    assert status("open").status_code == 200
    reopened_at = conversation(ws.id, conv)["analytics"]["openedAt"]
    assert status("closed").status_code == 200 and status("closed").status_code == 200
    second_close = ts(conversation(ws.id, conv)["closedAt"])
    first_msg = inbound(ws.id, conv, msg_id)
    day = local_day(first_msg["createdAt"])
    overview = report(ws.api, "overview", **{"from": day, "to": day})
    assert {k: overview["totals"][k] for k in ("opened", "reopened", "closed", "contained", "messagesIn")} == {
        "opened": 1, "reopened": 1, "closed": 2, "contained": 2, "messagesIn": 1}
    assert overview["rates"]["reopen"] == 0.5 and overview["firstResponse"]["n"] == 0
    one, two = first_close - ts(first_msg["createdAt"]), second_close - reopened_at
    assert dist(overview["resolution"]) == duration(2, one + two, one, two)


def test_bad_input_and_other_workspaces(api):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.enabled": False, "escalation.timeoutHours": 0})
    conv, msg_id = customer_says(api, ws, "hola")
    [(agent, agent_id)] = new_agents(api, ws, 1)
    day = local_day(inbound(ws.id, conv, msg_id)["createdAt"])
    cases = [({"from": "yesterday"}, 400, "invalid_query"), ({"interval": "hour"}, 400, "invalid_query"),
             ({"channel": "sms"}, 400, "invalid_query"), ({"color": "red"}, 400, "invalid_query"),
             ({"from": "2026-03-02", "to": "2026-03-01"}, 422, "invalid_range"),
             ({"from": "2025-01-01", "to": "2026-03-01"}, 422, "range_too_long"),
             ({"agentId": "user_nobody"}, 404, "agent_not_found")]
    for params, status, code in cases:
        r = ws.api.get("/api/v1/analytics/overview", params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (params, r.text)
    assert api.get("/api/v1/analytics/overview").status_code == 401
    # Another workspace: sees none of this one's figures, and none of its agents.
    other = workspace(api)
    r = other.api.get("/api/v1/analytics/agents", params={"agentId": agent_id})
    assert r.status_code == 404 and r.json()["error"]["code"] == "agent_not_found"
    q = {"from": day, "to": day}
    assert report(other.api, "overview", **q)["totals"]["messagesIn"] == 0
    assert report(ws.api, "overview", **q)["totals"]["messagesIn"] == 1
    assert report(other.api, "agents", **q)["agents"] == []
    lines = other.api.get("/api/v1/analytics/export.csv", params=q).text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("day,channel,agent")
    # Weeks: periods named by their Monday, one per week even when empty.
    weekly = report(ws.api, "overview", **{"from": "2026-11-02", "to": "2026-11-29", "interval": "week"})
    assert [p["period"] for p in weekly["series"]] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert weekly["range"]["timeZone"] == "UTC"   # the default zone
