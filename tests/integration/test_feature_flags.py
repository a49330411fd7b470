"""Feature flags through the real boundary: operators define and roll out a flag with the ops CLI,
workspace admins read and override it through the API, and the flagged feature (the analytics
export for spreadsheets: agent names and a UTF-8 BOM) follows the rollout, the override, the
tenant override and the kill switch. Usage counts come back through `scripts/ops flag-usage`.

The test stack caches flags for 1 s (devstack/stack.py), so a change is polled for, never slept on.
"""
from __future__ import annotations

import itertools
import json

from helpers import PASSWORD, login, new_admin
from messaging_support import ops, wait_for

from utalk.flags import bucket

FLAG = "analytics.export_agent_names"
BOM = "\ufeff"


def admin_of(api, workspace=None) -> tuple:
    admin = new_admin(workspace)
    return api.with_token(login(api, admin["email"])["token"]), admin


def flag_set(*args: str) -> None:
    done = ops("flag-set", FLAG, "--reason", "test rollout", *args)
    assert done.returncode == 0, done.stderr + done.stdout


def export(clients) -> str:
    """The export, by the next of `clients` (admins of one workspace): reports are limited to 30 a
    minute per user (utalk/limits.py ANALYTICS), and the polls below add up."""
    r = next(clients).get("/api/v1/analytics/export.csv")
    assert r.status_code == 200, r.text
    return r.content.decode("utf-8")


def settled(predicate):
    """Poll what the gateway's 1 s flags cache will answer, twice a second (each poll is an export)."""
    return wait_for(predicate, timeout=10, interval=0.5)


def with_names(text: str) -> bool:
    """The spreadsheet form of the export: BOM first, agentName beside the agent id."""
    assert text.startswith(BOM) == text.lstrip(BOM).startswith("day,channel,agent,agentName,")
    return text.startswith(BOM)


def agent_with_figures(client, admin: dict) -> str:
    """An agent named with accents who has a row in the export (an offer counted for them)."""
    from utalk.services import analytics

    r = client.post("/api/v1/users", json={"email": f"jose-{admin['id'][:8]}@example.com", "password": PASSWORD,
                                           "name": "José Pérez", "role": "agent"})
    assert r.status_code == 201, r.text
    agent_id = r.json()["id"]
    assert analytics.offered(admin["workspaceId"], {"id": "esc_flags", "conversationId": "conv_x"}, agent_id,
                             "whatsapp")
    return agent_id


def shown(client, key: str = FLAG) -> dict:
    r = client.get("/api/v1/workspace/flags")
    assert r.status_code == 200, r.text
    return next(f for f in r.json()["items"] if f["key"] == key)


def test_rollout_override_tenant_and_kill_switch_drive_the_flagged_export(api):
    client, admin = admin_of(api)
    ws = admin["workspaceId"]
    agent_id = agent_with_figures(client, admin)
    exporters = itertools.cycle([client] + [admin_of(api, (ws, admin["tenantId"]))[0] for _ in range(2)])
    place = bucket(FLAG, ws)

    # No such flag yet: the export is as it always was.
    assert not with_names(export(exporters))

    # A rollout that stops just short of this workspace's bucket leaves it out ...
    flag_set("--description", "Agent names in the CSV export", "--percent", str(place), "--overridable")
    assert shown(client) == {"key": FLAG, "description": "Agent names in the CSV export", "enabled": False,
                             "reason": "rollout", "overridable": True, "override": None, "overrideUpdatedAt": None}
    assert not with_names(export(exporters))
    # ... one percent more takes it in, and it stays in as the rollout grows.
    flag_set("--percent", str(place + 1))
    text = settled(lambda: t if with_names(t := export(exporters)) else None)
    row = next(line for line in text.splitlines() if agent_id in line)
    assert row.split(",")[2:4] == [agent_id, "José Pérez"]
    flag_set("--percent", "100")
    assert with_names(export(exporters)) and shown(client)["enabled"] is True

    # The workspace's own override wins over the rollout, both ways, and is audited.
    r = client.put(f"/api/v1/workspace/flags/{FLAG}", json={"enabled": False})
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["reason"] == "workspace_override" and r.json()["override"] is False
    settled(lambda: not with_names(export(exporters)))
    flag_set("--percent", "0")
    assert client.put(f"/api/v1/workspace/flags/{FLAG}", json={"enabled": True}).json()["enabled"] is True
    settled(lambda: with_names(export(exporters)))

    # The kill switch wins over everything, within the cache TTL, and comes back with --enable.
    flag_set("--kill")
    assert shown(client)["reason"] == "killed"
    settled(lambda: not with_names(export(exporters)))
    flag_set("--enable")
    settled(lambda: with_names(export(exporters)))

    # Dropping the override returns the workspace to the rollout (0 %), where a tenant override applies.
    r = client.delete(f"/api/v1/workspace/flags/{FLAG}")
    assert r.status_code == 200 and r.json()["override"] is None and r.json()["enabled"] is False
    assert client.delete(f"/api/v1/workspace/flags/{FLAG}").status_code == 200   # a retry is harmless
    settled(lambda: not with_names(export(exporters)))
    flag_set("--tenant", admin["tenantId"], "--tenant-state", "on")
    assert shown(client)["reason"] == "tenant_override"
    settled(lambda: with_names(export(exporters)))
    flag_set("--tenant", admin["tenantId"], "--clear-tenant")
    assert shown(client)["reason"] == "rollout" and shown(client)["enabled"] is False

    from messaging_support import db
    changes = [d.to_dict() for d in db().collection("workspaces").document(ws).collection("auditLog").stream()
               if d.to_dict()["action"] == "flag.override"]
    assert sorted(c["changes"][0]["after"] is None for c in changes) == [False, False, True]

    # Usage: evaluations on and off, and the exports that carried names, per day.
    done = ops("flag-usage", FLAG)
    assert done.returncode == 0, done.stderr
    [report] = [e for e in map(json.loads, done.stdout.splitlines()) if "severity" not in e]
    [today] = report["days"].values()
    assert today["on"] >= 5 and today["off"] >= 5 and today["used"] == today["on"]


def test_who_may_read_and_override(api):
    client, admin = admin_of(api)
    other, _ = admin_of(api)
    flag_set("--percent", "0", "--overridable")
    done = ops("flag-set", "inbox.fixed", "--reason", "x", "--percent", "100")
    assert done.returncode == 0, done.stderr

    # Agents may not read or change flags.
    r = client.post("/api/v1/users", json={"email": f"ag-{admin['id'][:8]}@example.com", "password": PASSWORD,
                                           "role": "agent"})
    agent = api.with_token(login(api, r.json()["email"])["token"])
    assert agent.get("/api/v1/workspace/flags").status_code == 403
    assert agent.put(f"/api/v1/workspace/flags/{FLAG}", json={"enabled": True}).status_code == 403
    assert agent.delete(f"/api/v1/workspace/flags/{FLAG}").status_code == 403

    # One workspace's override is its own.
    assert client.put(f"/api/v1/workspace/flags/{FLAG}", json={"enabled": True}).status_code == 200
    assert shown(client)["enabled"] is True
    assert shown(other)["enabled"] is False and shown(other)["override"] is None

    # Unknown flags, a flag the platform does not let workspaces override, bad bodies.
    assert client.put("/api/v1/workspace/flags/nope", json={"enabled": True}).json()["error"]["code"] == "flag_not_found"
    assert client.delete("/api/v1/workspace/flags/NOPE!").status_code == 404
    r = client.put("/api/v1/workspace/flags/inbox.fixed", json={"enabled": False})
    assert r.status_code == 409 and r.json()["error"]["code"] == "flag_not_overridable"
    assert shown(client, "inbox.fixed")["enabled"] is True
    assert client.put(f"/api/v1/workspace/flags/{FLAG}", json={"enabled": "yes"}).status_code == 422
    assert client.put(f"/api/v1/workspace/flags/{FLAG}", json={}).status_code == 422

    # Operators' bad input is refused, and a workspace admin has no route to a definition.
    assert ops("flag-set", FLAG, "--reason", "x", "--percent", "101").returncode != 0
    assert ops("flag-set", "Bad Key", "--reason", "x").returncode != 0
    assert ops("flag-usage", "nope").returncode != 0
    assert client.patch(f"/api/v1/workspace/flags/{FLAG}", json={"percent": 100}).status_code in (404, 405)
