"""The analytics compaction job (docs/analytics.md): a finished day's counter shards become one
rollup per day x channel x agent, the reports say exactly what they said before, a repeated run
changes nothing, today is left alone, and an event that arrives late for a compacted day counts
once (on a fresh shard beside the rollup, folded by the next run). History is played on earlier
days by moving the stack's clock (utalk/clock.py)."""
from __future__ import annotations

from datetime import timedelta

from bot_support import conversation, customer_says, quiet_workspace, ws_doc
from helpers import call_internal
from lifecycle_support import move_clock, now
from messaging_support import wait_for, workspace

REPORTS = ("overview", "conversations", "agents", "bot")


def counter_docs(ws_id: str, day: str) -> list[dict]:
    return [{"id": d.id, **d.to_dict()} for d in ws_doc(ws_id).collection("analyticsDaily").stream()
            if d.get("day") == day]


def figures(ws, day: str) -> dict:
    out = {}
    for name in REPORTS:
        r = ws.api.get(f"/api/v1/analytics/{name}", params={"from": day, "to": day})
        assert r.status_code == 200, r.text
        out[name] = r.json()
    r = ws.api.get("/api/v1/analytics/export.csv", params={"from": day, "to": day})
    out["csv"] = r.text
    return out


def compact(api, slot: str) -> dict:
    r = call_internal(api, "analytics_compaction", {}, headers={"X-CloudScheduler-ScheduleTime": slot})
    assert r.status_code == 200, r.text
    return r.json()


def opened(api, ws) -> str:
    conv, _ = customer_says(api, ws, "hola")
    wait_for(lambda: (conversation(ws.id, conv).get("analytics") or {}).get("openedAt"))   # bot_dispatch ran
    return conv


def close(ws, conv: str) -> None:
    assert ws.api.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"}).status_code == 200


def test_a_finished_day_is_folded_into_rollups_and_a_late_event_still_counts_once(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    past = (now() - timedelta(days=3)).replace(hour=12, minute=0)
    day = past.date().isoformat()
    move_clock(past)
    convs = [opened(api, ws) for _ in range(5)]
    for conv in convs[:4]:
        close(ws, conv)
    move_clock(None)
    today_conv = opened(api, ws)
    today = now().date().isoformat()
    before = figures(ws, day)
    assert before["overview"]["totals"]["opened"] == 5 and before["overview"]["totals"]["closed"] == 4
    shards = counter_docs(ws.id, day)
    assert len(shards) > 1 and {d.get("kind") for d in shards} == {"shard"}

    first = compact(api, "2026-12-02T10:40:00Z")
    assert first["done"] and first["started"] >= 1, first
    [rollup] = counter_docs(ws.id, day)
    assert rollup["kind"] == "rollup" and rollup["id"] == f"{day}~whatsapp~-~r"
    assert (rollup["opened"], rollup["closed"], rollup["contained"]) == (5, 4, 4)
    assert figures(ws, day) == before
    assert {d.get("kind") for d in counter_docs(ws.id, today)} == {"shard"}      # today is not finished
    # Scheduler repeats the slot, and the next hour's run: nothing new to fold, the same figures.
    assert compact(api, "2026-12-02T10:40:00Z")["started"] == 0
    assert compact(api, "2026-12-02T11:40:00Z")["started"] == 0
    assert figures(ws, day) == before and len(counter_docs(ws.id, day)) == 1

    # Late: the fifth conversation is closed at a time of the compacted day.
    move_clock(past + timedelta(hours=1))
    close(ws, convs[4])
    move_clock(None)
    late = figures(ws, day)
    assert late["overview"]["totals"]["closed"] == 5 and late["overview"]["totals"]["opened"] == 5
    assert late["overview"]["resolution"]["n"] == 5
    assert sorted(d.get("kind") for d in counter_docs(ws.id, day)) == ["rollup", "shard"]
    assert compact(api, "2026-12-02T12:40:00Z")["started"] == 1
    assert figures(ws, day) == late and [d["kind"] for d in counter_docs(ws.id, day)] == ["rollup"]
    close(ws, today_conv)
