"""Workspace settings through HTTP: the whole document with defaults, admin only, JSON merge patches
validated per field, every change audited and announced (`workspace:updated`), readers working on a
partially stored document."""
from __future__ import annotations

import pytest

from bot_support import customer_says, outbound, ws_doc
from messaging_support import agent, wait_for, workspace
from realtime_support import RealtimeReader

PATH = "/api/v1/workspace/settings"


def audit_log(ws_id: str) -> list[dict]:
    return [d.to_dict() for d in ws_doc(ws_id).collection("auditLog").stream()]


@pytest.fixture
def events_of(stack):
    reader = RealtimeReader()
    yield lambda ws_id, name: [e for e in reader.pull() if e["workspaceId"] == ws_id and e["event"] == name]
    reader.close()


def test_a_partially_stored_document_reads_whole_with_defaults(api):
    ws = workspace(api, bot=False)
    # As an older version (or a hand edit) may have left it: some keys, one value of the wrong type.
    ws_doc(ws.id).update({"settings": {"bot": {"enabled": False, "greeting": 5}, "autoCloseDays": 7,
                                       "escalation": {"timeoutHours": "soon", "keywords": ["supervisor"]}}})
    r = ws.api.get(PATH)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["bot"]["enabled"] is False and s["autoCloseDays"] == 7
    assert s["escalation"]["keywords"] == ["supervisor"]
    assert s["bot"]["greeting"].startswith("¡Hola!") and s["escalation"]["timeoutHours"] == 12  # defaults
    assert s["escalation"]["offerTimeoutSeconds"] == 120 and s["escalation"]["releaseOnOffline"] == "offers"
    assert s["businessHours"]["enabled"] is False and s["businessHours"]["weekly"]["mon"] == [
        {"open": "09:00", "close": "18:00"}] and s["businessHours"]["weekly"]["sun"] == []
    assert s["ai"] == {"requestsPerMinute": 60, "maxConcurrent": 10, "maxTokensPerRequest": 4000,
                       "timeoutSeconds": 30}
    assert s["timeZone"] == "UTC" and s["agentVisibility"] == "all" and s["mediaRetentionDays"] == 730
    assert s["messenger"] == {"humanAgentTag": False} and s["language"] == "es"


def test_the_bot_works_on_a_partially_stored_document(api):
    ws = workspace(api)
    ws_doc(ws.id).update({"settings": {"bot": {"provider": "offline"}, "escalation": {"timeoutHours": 0}}})
    conv, _ = customer_says(api, ws, "hola")
    [reply] = wait_for(lambda: outbound(ws.id, conv))
    assert reply["text"].startswith("¡Hola! Soy el asistente virtual")   # the default greeting


def test_only_admins_read_and_change_settings(api):
    ws = workspace(api, bot=False)
    agent_api, _ = agent(ws, api)
    for r in (agent_api.get(PATH), agent_api.patch(PATH, json={"autoCloseDays": 3})):
        assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"
    assert api.get(PATH).status_code == 401 and api.patch(PATH, json={}).status_code == 401
    assert ws.api.get(PATH).json()["autoCloseDays"] == 30 and audit_log(ws.id) == []


def test_patch_merges_what_is_sent_lists_replace_and_null_resets(api):
    ws = workspace(api, bot=False)
    r = ws.api.patch(PATH, json={"escalation": {"timeoutHours": 6, "skillsByIntent": {"billing": [" Billing "]}},
                                 "businessHours": {"weekly": {"sat": [{"open": "10:00", "close": "14:00"}]}},
                                 "timeZone": "America/Mexico_City"})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["escalation"]["timeoutHours"] == 6 and s["escalation"]["skillsByIntent"] == {"billing": ["billing"]}
    assert s["escalation"]["keywords"] == ["agente", "humano", "asesor", "persona"]        # untouched
    assert s["businessHours"]["weekly"]["sat"] == [{"open": "10:00", "close": "14:00"}]
    assert s["businessHours"]["weekly"]["mon"] == [{"open": "09:00", "close": "18:00"}]   # untouched
    assert s["timeZone"] == "America/Mexico_City" and ws.api.get(PATH).json() == s
    # A list is replaced whole; a map merges key by key; null puts a key back to its default.
    s = ws.api.patch(PATH, json={"escalation": {"keywords": ["supervisor"], "timeoutHours": None,
                                                "skillsByIntent": {"sales": ["sales"]}}}).json()
    assert s["escalation"]["keywords"] == ["supervisor"] and s["escalation"]["timeoutHours"] == 12
    assert s["escalation"]["skillsByIntent"] == {"billing": ["billing"], "sales": ["sales"]}
    s = ws.api.patch(PATH, json={"escalation": {"skillsByIntent": {"billing": None}}}).json()
    assert s["escalation"]["skillsByIntent"] == {"sales": ["sales"]}
    # What the bot reads is what the API says.
    stored = ws_doc(ws.id).get().to_dict()["settings"]
    assert stored["escalation"]["keywords"] == ["supervisor"] and stored["timeZone"] == "America/Mexico_City"


def test_validation_errors_name_each_field_and_nothing_is_stored(api):
    ws = workspace(api, bot=False)
    before = ws.api.get(PATH).json()
    r = ws.api.patch(PATH, json={
        "escalation": {"timeoutHours": -1, "confidenceThreshold": "high", "releaseOnOffline": "never"},
        "timeZone": "Mars/Olympus_Mons",
        "businessHours": {"weekly": {"mon": [{"open": "18:00", "close": "09:00"}]}, "holidays": ["2026-02-30"]},
        "ai": {"requestsPerMinute": 0}, "agentVisibility": "some", "bot": {"enabled": "yes"}})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    fields = {f["field"] for f in err["details"]["fields"]}
    assert fields == {"escalation.timeoutHours", "escalation.confidenceThreshold", "escalation.releaseOnOffline",
                      "timeZone", "businessHours.weekly.mon.0", "businessHours.holidays.0", "ai.requestsPerMinute",
                      "agentVisibility", "bot.enabled"}
    assert ws.api.get(PATH).json() == before and audit_log(ws.id) == []


def test_unknown_keys_are_refused(api):
    ws = workspace(api, bot=False)
    for body, field in (({"theme": "dark"}, "theme"), ({"escalation": {"timeoutHour": 3}}, "escalation.timeoutHour"),
                        ({"businessHours": {"weekly": {"monday": []}}}, "businessHours.weekly.monday")):
        r = ws.api.patch(PATH, json=body)
        assert r.status_code == 422, r.text
        [f] = r.json()["error"]["details"]["fields"]
        assert f["field"] == field and f["type"] == "extra_forbidden"
    assert ws.api.patch(PATH, data="[]", headers={"Content-Type": "application/json"}).status_code == 400
    assert ws.api.patch(PATH, data="x=1", headers={"Content-Type": "text/plain"}).status_code == 415


def test_every_change_is_audited_and_announced_once(api, events_of):
    ws = workspace(api, bot=False)
    body = {"autoCloseDays": 10, "escalation": {"offerTimeoutSeconds": 60}, "agentVisibility": "assigned"}
    for _ in range(2):   # the same PATCH again (a client's retry) changes, records and announces nothing
        assert ws.api.patch(PATH, json=body).status_code == 200
    [record] = audit_log(ws.id)
    assert record["action"] == "settings.updated" and record["actorId"] == ws.admin["id"]
    assert record["actorRole"] == "admin" and record["at"] is not None and record["requestId"]
    assert sorted(record["changes"], key=lambda c: c["path"]) == [
        {"path": "agentVisibility", "before": "all", "after": "assigned"},
        {"path": "autoCloseDays", "before": 30, "after": 10},
        {"path": "escalation.offerTimeoutSeconds", "before": 120, "after": 60}]
    [event] = wait_for(lambda: events_of(ws.id, "workspace:updated"))
    assert event["attributes"]["audience"] == "workspace"
    assert event["payload"] == {"workspaceId": ws.id, "auditId": record["id"], "by": ws.admin["id"],
                                "paths": ["agentVisibility", "autoCloseDays", "escalation.offerTimeoutSeconds"]}
    assert len(events_of(ws.id, "workspace:updated")) == 1


def test_a_workspace_changes_only_its_own_settings(api):
    ws, other = workspace(api, bot=False), workspace(api, bot=False)
    assert ws.api.patch(PATH, json={"autoCloseDays": 2}).json()["autoCloseDays"] == 2
    assert other.api.get(PATH).json()["autoCloseDays"] == 30 and audit_log(other.id) == []


def test_garbage_bodies_are_4xx(api):
    ws = workspace(api, bot=False)
    payloads = [b"", b"null", b"\xff\xfe", b'{"email": 5}', b"[]" * 1000, b'{"a":' * 500,
                b'{"bot": {"faq": "many"}}', b'{"escalation": [1, 2]}', b'{"bot": null, "ai": {"maxConcurrent": 1e999}}']
    for data in payloads:
        r = ws.api.patch(PATH, data=data, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (data[:30], r.status_code, r.text[:200])
