"""Structured JSON logs that Cloud Logging parses (severity, trace, request id on every line).

One trace id follows an inbound message through the whole chain: the webhook takes it from
`X-Cloud-Trace-Context` (or starts one), every Pub/Sub message published under it carries it in
the `traceId` attribute, every Cloud Task enqueued under it carries it in `X-Cloud-Trace-Context`,
and the internal functions restore it, so Cloud Logging groups every function's lines under it.
"""
from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import sys
import time
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The Cloud Logging trace resource, "projects/<project>/traces/<32 hex>".
trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)

TRACE_HEADER = "X-Cloud-Trace-Context"   # "<trace id>/<span id>;o=<options>"
TRACE_ATTRIBUTE = "traceId"             # the Pub/Sub attribute carrying the bare trace id
_TRACE_ID = re.compile(r"[0-9a-fA-F]{16,32}")


def trace_id_from(value: str | None) -> str | None:
    """The trace id of an `X-Cloud-Trace-Context` header or a bare id; None if it is not one."""
    trace_id = (value or "").split("/", 1)[0].strip()
    return trace_id.lower() if _TRACE_ID.fullmatch(trace_id) else None


def new_trace_id() -> str:
    return uuid.uuid4().hex


def trace_path(project: str, trace_id: str | None) -> str | None:
    return f"projects/{project}/traces/{trace_id}" if trace_id else None


def current_trace_id() -> str | None:
    path = trace.get()
    return path.rsplit("/", 1)[-1] if path else None


def trace_header(trace_id: str) -> str:
    """A header value continuing `trace_id` in the next hop (a new span of the same trace)."""
    return f"{trace_id}/{random.getrandbits(63) + 1};o=1"

_STD = set(vars(logging.makeLogRecord({})))
# One encoder for every line: json.dumps(default=...) builds a new one per call. Every request
# writes an access line, so this and the cached second below are per-request CPU.
_encode = json.JSONEncoder(default=str).encode
_second: tuple = (None, "")   # (whole second, its "YYYY-MM-DDTHH:MM:SS"), swapped whole: threads share it


def _time(created: float, msecs: float) -> str:
    global _second
    whole, cached = int(created), _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{int(msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": _time(record.created, record.msecs),
        }
        rid = request_id.get()
        if rid:
            entry["requestId"] = rid
        tr = trace.get()
        if tr:
            entry["logging.googleapis.com/trace"] = tr
        for key, value in record.__dict__.items():
            if key not in _STD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)


def get(name: str) -> logging.Logger:
    root = logging.getLogger("utalk")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logging.getLogger(f"utalk.{name}")
