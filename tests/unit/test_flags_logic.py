"""Feature flag evaluation (utalk/flags.py), pure: precedence and the stable rollout buckets."""
from utalk.flags import bucket, evaluate

KEY = "analytics.export_agent_names"
WORKSPACES = [f"ws_{i:05d}" for i in range(2000)]


def flag(**fields) -> dict:
    return {"key": KEY, "enabled": True, "percent": 0, "overridable": True, "tenants": {}, **fields}


def rolled_out(percent: int, key: str = KEY) -> set[str]:
    return {ws for ws in WORKSPACES if evaluate(flag(key=key, percent=percent), ws, None, None).enabled}


def test_a_workspace_in_at_10_percent_stays_in_at_50_and_100():
    ten, fifty, hundred = rolled_out(10), rolled_out(50), rolled_out(100)
    assert ten < fifty < hundred == set(WORKSPACES)
    assert 0.07 < len(ten) / len(WORKSPACES) < 0.13 and 0.45 < len(fifty) / len(WORKSPACES) < 0.55
    assert rolled_out(0) == set()


def test_buckets_are_stable_and_differ_per_flag():
    assert bucket(KEY, "ws_1") == bucket(KEY, "ws_1")
    assert all(0 <= bucket(KEY, ws) < 100 for ws in WORKSPACES)
    # The key is in the hash: the first 10 % of one flag are not the first 10 % of every flag.
    assert rolled_out(10) != rolled_out(10, "inbox.other")


def test_precedence_kill_switch_then_workspace_then_tenant_then_rollout():
    on, off = {"enabled": True}, {"enabled": False}
    assert evaluate(None, "ws_1", "t", on).reason == "killed"                       # no such flag: off
    assert evaluate(flag(enabled=False, percent=100), "ws_1", "t", on) == evaluate(None, "ws_1", "t", None)
    result = evaluate(flag(percent=100, tenants={"t": True}), "ws_1", "t", off)
    assert (result.enabled, result.reason) == (False, "workspace_override")
    result = evaluate(flag(percent=0, tenants={"t": True}), "ws_1", "t", None)
    assert (result.enabled, result.reason) == (True, "tenant_override")
    # A flag the platform does not let workspaces override ignores a stale override.
    result = evaluate(flag(percent=100, overridable=False), "ws_1", "t", off)
    assert (result.enabled, result.reason) == (True, "rollout")
