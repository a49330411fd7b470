"""The JSON log line Cloud Logging parses: severity, time, request id, trace and extras."""
import datetime
import json
import logging

from utalk import logs


def _record(created: float, **extra) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "utalk.http", "levelno": logging.INFO, "levelname": "INFO",
                                    "msg": "%s %s", "args": ("POST", 201), **extra})
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_a_line_is_json_with_its_time_in_utc_milliseconds():
    fmt = logs.JsonFormatter()
    for created in (1_796_316_000.0, 1_796_316_000.999, 1_796_316_001.5, 0.25):   # the second is cached: crossing it
        line = json.loads(fmt.format(_record(created)))
        expected = datetime.datetime.fromtimestamp(int(created), datetime.timezone.utc)
        assert line["time"] == expected.strftime("%Y-%m-%dT%H:%M:%S") + f".{int((created % 1) * 1000):03d}Z"
        assert (line["severity"], line["message"], line["logger"]) == ("INFO", "POST 201", "utalk.http")


def test_request_id_trace_and_extras_ride_along():
    rid, trace = logs.request_id.set("req12345"), logs.trace.set("projects/p/traces/abc")
    try:
        line = json.loads(logs.JsonFormatter().format(_record(1.0, function="webchat_send", latencyMs=2.5,
                                                              when=datetime.date(2026, 12, 4))))
    finally:
        logs.request_id.reset(rid)
        logs.trace.reset(trace)
    assert line["requestId"] == "req12345"
    assert line["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert (line["function"], line["latencyMs"], line["when"]) == ("webchat_send", 2.5, "2026-12-04")   # str() of the rest


def test_an_exception_is_kept():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys
        record = _record(1.0, exc_info=sys.exc_info())
    assert "RuntimeError: boom" in json.loads(logs.JsonFormatter().format(record))["exception"]
