"""The limits table covers every route the way docs/security.md says; client addresses and strict JSON."""
import importlib
import sys
from pathlib import Path

import flask
import pytest

from utalk import errors, http, limits, manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

HTTP = [fn for fn in manifest.FUNCTIONS if fn.path]


def _entry(fn):
    module, attr = fn.handler.split(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("fn", HTTP, ids=lambda f: f.name)
def test_every_route_is_limited_by_user_or_address_except_webhooks_and_liveness(fn):
    entry = _entry(fn)
    extra = limits.BY_FUNCTION.get(fn.name, ())
    if fn.path.startswith("/webhooks/") or fn.name in ("health", "api_openapi"):
        assert entry.limits == ()
    elif fn.name in limits.COUNTED_BY_HANDLER:   # per visitor, by its handler (tests/integration/test_webchat_api.py)
        assert entry.limits == () and not entry.authenticated
    elif entry.authenticated:
        assert entry.limits == ((limits.USER, "user"), *extra)
    else:
        assert entry.limits == ((limits.IP, "ip"), *extra)


def test_per_endpoint_rows_name_real_functions():
    assert set(limits.BY_FUNCTION) <= set(manifest.by_name())
    assert limits.UNLIMITED <= set(manifest.by_name())
    assert limits.COUNTED_BY_HANDLER <= set(manifest.by_name())
    assert (limits.MESSAGES, "user") in _entry(manifest.get("messages_send")).limits


def test_every_route_taking_a_visitors_token_counts_per_visitor_and_no_other_does():
    visitor_routes = {fn.name for fn in HTTP if getattr(_entry(fn), "security", None) == "visitorAuth"}
    assert visitor_routes and set(limits.BY_VISITOR) == visitor_routes
    assert all(limits.IP not in counted for counted in limits.BY_VISITOR.values())


def _all_limits():
    return [v for v in vars(limits).values() if isinstance(v, limits.Limit)]


@pytest.mark.parametrize("limit", _all_limits(), ids=lambda limit: limit.name)
def test_no_counter_document_takes_more_than_one_write_a_second(limit):
    assert sum(limit.share(s) for s in range(limit.shards)) == limit.limit
    assert max(limit.share(s) for s in range(limit.shards)) / limit.window_seconds <= limits.MAX_WRITES_PER_DOCUMENT


def test_the_spec_limits():
    assert (limits.USER.limit, limits.USER.window_seconds, limits.USER.shards) == (100, 60, 2)
    assert (limits.MESSAGES.limit, limits.MEDIA_UPLOADS.limit) == (60, 10)


def _ip(headers=None, remote="127.0.0.1"):
    app = flask.Flask(__name__)
    with app.test_request_context(headers=headers or {}, environ_base={"REMOTE_ADDR": remote}):
        return http.client_ip(flask.request)


def test_client_ip_trusts_only_the_entry_googles_front_end_appended(monkeypatch):
    assert _ip({"X-Forwarded-For": "203.0.113.7"}) == "203.0.113.7"
    assert _ip({"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}) == "203.0.113.7"  # the client wrote 1.2.3.4
    assert _ip({"X-Forwarded-For": "2001:db8:1:2:3:4:5:6"}) == "2001:db8:1:2::/64"
    assert _ip({"X-Forwarded-For": "::ffff:203.0.113.7"}) == "203.0.113.7"
    assert _ip({"X-Forwarded-For": "garbage"}) == "unknown"
    assert _ip(remote="192.0.2.1") == "192.0.2.1"
    monkeypatch.setattr(http, "FORWARDED_HOPS", 2)  # behind a load balancer: client, then the balancer
    assert _ip({"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 35.191.0.1"}) == "203.0.113.7"
    assert _ip({"X-Forwarded-For": "203.0.113.7"}, remote="192.0.2.1") == "192.0.2.1"


@pytest.mark.parametrize("raw", [b"[" * 10_000, b"[" * 21 + b"]" * 21, b'{"a":' * 21 + b"1" + b"}" * 21,
                                 b'{"a": NaN}', b"Infinity", b'{"a": "\\ud800"}', b'{"\\udfff": 1}',
                                 '{"a":"é"}'.encode("latin-1"), '{"a":1}'.encode("utf-16"), b"\xef\xbb\xbf{}"])
def test_parse_json_refuses_what_cannot_be_stored_or_is_not_json(raw):
    with pytest.raises(errors.BadRequest) as exc:
        http.parse_json(raw)
    assert exc.value.code == "invalid_json"


def test_parse_json_accepts_json_up_to_firestores_depth():
    assert http.parse_json(b"[" * 20 + b"]" * 20)
    assert http.parse_json('{"a": "\\ud83d\\ude00 ñ"}'.encode()) == {"a": "😀 ñ"}


@pytest.mark.parametrize("name", ["twilio_inbound", "twilio_status", "health"])
def test_unlimited_functions_never_load_the_limiter(name):
    """The webhook's cold start and requests carry no limiter code (its plan is empty)."""
    import subprocess

    functions = Path(__file__).resolve().parents[2] / "functions"
    probe = (f"import sys; sys.path.insert(0, {str(functions)!r}); import main; getattr(main, {name!r}); "
             "assert 'utalk.ratelimit' not in sys.modules, 'ratelimit loaded'")
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)
