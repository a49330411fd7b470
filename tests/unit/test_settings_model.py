"""The settings model: every key of the brief with its default, strict inputs, lenient reads of what
is stored, and the merge patch / diff that PATCH and the audit log use."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from utalk.models.settings import SettingsPatch, WorkspaceSettings, defaults, effective, readable
from utalk.services.settings import changes, merge_patch


def test_every_key_has_its_default():
    d = defaults()
    assert (d["language"], d["timeZone"], d["agentVisibility"]) == ("es", "UTC", "all")
    assert set(d["bot"]) == {"enabled", "greeting", "holdingMessage", "provider", "model", "systemPrompt",
                             "fallback", "faq"}
    assert d["bot"]["provider"] == "auto" and d["bot"]["model"] == "gpt-4o-mini" and d["bot"]["enabled"] is True
    assert d["escalation"] == {"keywords": ["agente", "humano", "asesor", "persona"], "timeoutHours": 12,
                               "confidenceThreshold": 0.5, "routeBySkill": False, "skillsByIntent": {},
                               "offerTimeoutSeconds": 120, "releaseOnOffline": "offers"}
    hours = d["businessHours"]
    assert hours["enabled"] is False and hours["holidays"] == [] and hours["outOfHoursMessage"]
    assert hours["weekly"] == {**{day: [{"open": "09:00", "close": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri")},
                               "sat": [], "sun": []}
    assert (d["autoCloseDays"], d["mediaRetentionDays"]) == (30, 730)
    assert d["ai"] == {"requestsPerMinute": 60, "maxConcurrent": 10, "maxTokensPerRequest": 4000, "timeoutSeconds": 30}
    assert d["messenger"] == {"humanAgentTag": False}


def test_the_seed_writes_the_model_defaults():
    from devstack.seed import DEFAULT_SETTINGS

    assert DEFAULT_SETTINGS == defaults()


@pytest.mark.parametrize("body", [
    {"autoCloseDays": "30"}, {"bot": {"enabled": "true"}}, {"timeZone": "Europe/Atlantis"}, {"timeZone": "../etc/passwd"},
    {"escalation": {"skillsByIntent": {"billing": ["bad skill!"]}}}, {"businessHours": {"holidays": ["01/02/2026"]}},
    {"businessHours": {"weekly": {"mon": [{"open": "09:00", "close": "13:00"}, {"open": "12:00", "close": "18:00"}]}}},
    {"businessHours": {"weekly": {"mon": [{"open": "9:00", "close": "18:00"}]}}}, {"language": "Spanish"},
])
def test_inputs_are_strict(body):
    with pytest.raises(ValidationError):
        SettingsPatch.model_validate(body)


def test_inputs_are_normalised():
    s = WorkspaceSettings.model_validate({
        "escalation": {"skillsByIntent": {"billing": [" Billing", "billing", "VIP"]}},
        "businessHours": {"holidays": ["2026-12-25", "2026-01-01", "2026-12-25"],
                          "weekly": {"mon": [{"open": "14:00", "close": "24:00"}, {"open": "08:00", "close": "12:00"}]}},
        "timeZone": "America/Mexico_City"})
    assert s.escalation.skillsByIntent == {"billing": ["billing", "vip"]}
    assert s.businessHours.holidays == ["2026-01-01", "2026-12-25"]
    assert [o.open for o in s.businessHours.weekly.mon] == ["08:00", "14:00"]


def test_reads_drop_what_the_model_refuses_to_its_default():
    stored = {"bot": {"enabled": False, "greeting": 5, "faq": [{"keywords": []}]}, "legacy": True,
              "escalation": "not a map", "businessHours": {"weekly": {"mon": [{"open": "18:00", "close": "09:00"}],
                                                                      "sat": []}}}
    assert readable(stored) == {"bot": {"enabled": False}, "businessHours": {"weekly": {"sat": []}}}
    e = effective(stored)
    assert e["bot"]["enabled"] is False and e["bot"]["greeting"] == defaults()["bot"]["greeting"]
    assert e["bot"]["faq"] == defaults()["bot"]["faq"] and e["escalation"] == defaults()["escalation"]
    assert e["businessHours"]["weekly"]["mon"] == [{"open": "09:00", "close": "18:00"}] and "legacy" not in e
    assert effective(None) == effective("garbage") == defaults()


def test_merge_patch_is_rfc_7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3], "n": {"x": None, "y": 1}}) == \
        {"a": "z", "c": {"d": "e"}, "l": [3], "n": {"y": 1}}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}   # not modified in place


def test_changes_lists_each_changed_leaf():
    before = {"a": 1, "m": {"x": [1], "y": 2}, "gone": {"k": 1}}
    after = {"a": 1, "m": {"x": [1, 2], "y": 2}, "gone": {}, "new": {"k": 2}}
    assert changes(before, after) == [{"path": "gone.k", "before": 1, "after": None},
                                      {"path": "m.x", "before": [1], "after": [1, 2]},
                                      {"path": "new", "before": None, "after": {"k": 2}}]
