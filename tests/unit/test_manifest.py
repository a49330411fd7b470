"""The manifest is consistent: every row resolves to a handler, every trigger is wired once."""
import importlib
import sys
from pathlib import Path

import pytest

from utalk import manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))


@pytest.mark.parametrize("fn", manifest.FUNCTIONS, ids=lambda f: f.name)
def test_every_row_resolves_to_a_callable(fn):
    module, attr = fn.handler.split(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_each_row_has_exactly_one_trigger():
    for fn in manifest.FUNCTIONS:
        triggers = [bool(fn.path), bool(fn.topic), bool(fn.queue), bool(fn.schedule)]
        assert sum(triggers) == 1, fn.name
        assert bool(fn.method) == bool(fn.path), fn.name


def test_topics_and_queues_are_declared():
    for fn in manifest.FUNCTIONS:
        if fn.topic:
            assert fn.topic in manifest.TOPICS, fn.name
        if fn.queue:
            assert manifest.queue(fn.queue), fn.name


def test_routes_are_unique():
    seen = set()
    for fn in manifest.FUNCTIONS:
        if fn.path:
            key = (fn.method, manifest.route_regex(fn.path).pattern)
            assert key not in seen, fn.name
            seen.add(key)


def test_match_path_extracts_params_and_prefers_literals():
    [(fn, params)] = [m for m in manifest.match_path("/api/v1/users/abc") if m[0].method == "GET"]
    assert fn.name == "users_get" and params == {"userId": "abc"}
    assert manifest.match_path("/api/v1/users/abc/deactivate")[0][0].name == "users_deactivate"
    assert manifest.match_path("/api/v1/nothing") == []


def test_main_resolves_targets_lazily():
    import main

    assert getattr(main, "health").__name__ == "health"
    with pytest.raises(AttributeError):
        getattr(main, "no_such_function")


@pytest.mark.parametrize("fn", [f for f in manifest.FUNCTIONS if f.schedule], ids=lambda f: f.name)
def test_scheduled_rows_are_internal_unix_cron_in_a_real_time_zone(fn):
    from zoneinfo import ZoneInfo

    from croniter import croniter

    assert not fn.public and not fn.path
    assert len(fn.schedule.split()) == 5 and croniter.is_valid(fn.schedule)   # Cloud Scheduler's unix-cron
    ZoneInfo(fn.time_zone)
    assert manifest.queue(manifest.JOBS_QUEUE)      # where its continuations go


def test_internal_rows_have_an_internal_trigger():
    for fn in manifest.FUNCTIONS:
        assert fn.public == bool(fn.path), fn.name
