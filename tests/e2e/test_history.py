"""The demo history (devstack/history.py) against the test stack: customers through the real
webhooks on days spread by moving the stack's clock, so the demo workspace's report has figures
on each of those days, not all today; the clock is back on real time afterwards."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from devstack import history, seed


def test_the_history_lands_on_the_days_it_plays(api):
    creds = seed.seed()
    history.play(api.base, creds, customers=4, days=3)
    admin = history.Api(api.base, creds["email"], creds["password"])
    tz = admin.call("GET", "/workspace/settings").json().get("timeZone") or "UTC"
    today = datetime.now(ZoneInfo(tz)).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    r = admin.call("GET", "/analytics/overview", params={"from": days[0], "to": days[-1]})
    assert r.status_code == 200, r.text
    report = r.json()
    opened = {p["period"]: p["opened"] for p in report["series"]}
    assert sum(opened.values()) == 4 and report["totals"]["messagesIn"] >= 4
    assert report["totals"]["closed"] == 3 and report["totals"]["escalations"] == 2   # customer 3 stays open
    assert opened[days[0]] >= 1 and opened[days[1]] >= 1, opened       # not all today
    assert [m.date() for m in history.moments(tz, 4, 3)] == sorted(m.date() for m in history.moments(tz, 4, 3))
    assert abs((datetime.now(ZoneInfo("UTC")) - _stack_now()).total_seconds()) < 5   # real time again


def _stack_now() -> datetime:
    from utalk import clock

    return clock.now()
