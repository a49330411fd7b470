"""Analytics' pure parts: duration buckets and percentiles, folding shards, days in a time zone,
business hours, and the nested counter maps."""
from datetime import datetime, timezone

from utalk.repositories.analytics import fold as add
from utalk.repositories.analytics import nested
from utalk.services.analytics import bucket_label, by_day, day_of, duration, in_business_hours
from utalk.services.analytics_reports import summary


def fold(*docs):
    out = {}
    for doc in docs:
        add(out, doc)
    return out


def test_bucket_bounds_are_inclusive_and_open_above_a_week():
    assert [bucket_label(s) for s in (0, 5, 5.001, 59.9, 60, 604800, 604801)] == \
        ["5", "5", "10", "60", "60", "604800", "inf"]


def test_percentiles_from_shards_added_together():
    # 10 first responses: 3 of 4 s, 5 of 50 s, 2 of 2 h, spread over three shards.
    shards = [nested(duration("frt_in", 4)) for _ in range(3)] + \
             [nested(duration("frt_in", 50)) for _ in range(5)] + [nested(duration("frt_in", 7200))] * 2
    total = fold(*shards)["frt_in"]
    s = summary(total)
    assert (s.n, s.mean) == (10, round((3 * 4 + 5 * 50 + 2 * 7200) / 10, 3))
    assert (s.median, s.p90) == (60.0, 7200.0)   # 5th and 9th smallest: 50 s -> <= 60, 2 h -> <= 7200
    assert sum(b.count for b in s.buckets) == 10 and s.buckets[-1].le is None
    assert summary(None).n == 0 and summary(None).median is None
    over = summary(nested(duration("q", 1e7))["q"])
    assert over.median is None and over.buckets[-1].count == 1


def test_folding_skips_dimensions_and_recurses_maps():
    a = {"day": "2026-12-01", "channel": "whatsapp", "agent": "", "opened": 1, "esc": {"keyword": 1},
         "out": {"agent": 2}}
    b = {"day": "2026-12-01", "channel": "whatsapp", "agent": "", "opened": 2, "esc": {"keyword": 1, "timeout": 1},
         "bot": {"costUsd": 0.25}}
    assert fold(a, b) == {"opened": 3, "esc": {"keyword": 2, "timeout": 1}, "bot": {"costUsd": 0.25},
                          "out": {"agent": 2}}   # a nested "agent" is a figure, not the dimension


def test_days_are_the_workspace_zone_days():
    late_utc = datetime(2026, 12, 2, 3, 30, tzinfo=timezone.utc)        # 21:30 on Dec 1 in Mexico City
    assert day_of({}, late_utc) == "2026-12-02"
    assert day_of({"timeZone": "America/Mexico_City"}, late_utc) == "2026-12-01"
    assert day_of({"timeZone": "Not/AZone"}, late_utc.timestamp()) == "2026-12-02"   # falls back to UTC


def test_business_hours_in_the_workspace_zone_minus_holidays():
    cfg = {"timeZone": "America/Mexico_City", "businessHours": {
        "enabled": True, "weekly": {"tue": [{"open": "09:00", "close": "18:00"}]}, "holidays": ["2026-12-08"]}}
    at = lambda y, m, d, h, mi=0: datetime(y, m, d, h, mi, tzinfo=timezone.utc).timestamp()
    assert in_business_hours(cfg, at(2026, 12, 1, 15)) is True            # Tue 09:00 local
    assert in_business_hours(cfg, at(2026, 12, 2, 0)) is False            # Tue 18:00 local: closed
    assert in_business_hours(cfg, at(2026, 12, 1, 14, 59)) is False       # Tue 08:59 local
    assert in_business_hours(cfg, at(2026, 12, 8, 16)) is False           # a holiday Tuesday
    assert in_business_hours({"businessHours": {"enabled": False}}, at(2026, 12, 6, 3)) is True


def test_nested_turns_paths_into_maps():
    assert nested({"a": 1, "b.c": 2, "b.d.e": 3}) == {"a": 1, "b": {"c": 2, "d": {"e": 3}}}


def test_a_span_is_cut_at_the_workspace_midnights():
    mx = {"timeZone": "America/Mexico_City"}
    midnight = datetime(2025, 12, 2, 6, tzinfo=timezone.utc).timestamp()      # 00:00 in Mexico City
    assert by_day(mx, midnight - 3600, midnight + 90000) == [("2025-12-01", 3600.0), ("2025-12-02", 86400.0),
                                                             ("2025-12-03", 3600.0)]
    assert by_day(mx, midnight, midnight) == []
