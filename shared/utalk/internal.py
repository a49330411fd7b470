"""How every internal function answers: the one entry wrapper of the manifest rows with
`public=False` (Pub/Sub push targets, Cloud Tasks targets, Cloud Scheduler jobs).

Their callers retry anything but a 2xx, so the status is the whole contract:
- 503 `misconfigured` while the instance's configuration is wrong (fail closed, utalk.config);
- 401/403 unless the caller is the invoker service account (OIDC, utalk.internal_auth), before
  the body is even read;
- 200 `{"ok": false, "dropped": reason}` for a delivery that can never succeed (`Drop`: a body
  that does not decode, ids that name nothing, a domain refusal): acknowledged so it is not
  redelivered forever, and logged with a `dropped` field that a log-based metric counts;
- 503 for what a retry can fix (`Retry`, `errors.Unavailable`, a secret not mounted yet);
- 500 for a bug (logged with its traceback; retried with backoff, then dead-lettered by Pub/Sub
  or given up by Cloud Tasks after the queue's max attempts);
- 200 `{"ok": true, ...}` with the handler's result otherwise.
Every request restores the trace it belongs to (utalk.logs), so its lines join the message's.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from utalk import errors, internal_auth, logs, manifest
from utalk.config import ConfigError, settings, startup_error

if TYPE_CHECKING:
    import flask

log = logs.get("internal")


class Drop(Exception):
    """A delivery that can never be processed: acknowledge it, log it, count it."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail[:500]


class Retry(Exception):
    """Raise from a handler to answer 503 and have the caller try again after its backoff."""


def function(name: str, parse: Callable[["flask.Request"], Any]) -> Callable[[Callable[[Any], Any]], Callable]:
    """Wrap `handler(payload)` as the entry point of internal function `name`; `parse(request)`
    turns the verified request into the payload (raising `Drop` for what cannot be decoded) and may
    restore the delivery's trace (`logs.trace`)."""
    fn = manifest.get(name)   # fail at import on a name the manifest does not know
    if fn.public:
        raise ValueError(f"{name} is a public function")
    from utalk import http  # internal functions run under functions-framework; enqueuers need no Flask

    def wrap(handler: Callable[[Any], Any]):
        def entry(request: "flask.Request") -> "flask.Response":
            if startup_error() is not None:
                return http.refuse_misconfigured()
            started = time.perf_counter()
            trace_id = logs.trace_id_from(request.headers.get(logs.TRACE_HEADER))
            rid_token = logs.request_id.set(http.request_id(request))
            trace_token = logs.trace.set(logs.trace_path(settings().project_id, trace_id))
            try:
                status, data, outcome = _answer(request, handler)
                log.info("%s %s %s", name, outcome, status, extra={
                    "function": name, "status": status, "outcome": outcome,
                    "latencyMs": round((time.perf_counter() - started) * 1000, 1)})
            finally:
                logs.trace.reset(trace_token)
                logs.request_id.reset(rid_token)
            return http.json_response(data, status)

        def _answer(request, handler) -> tuple[int, dict, str]:
            if request.method != "POST":
                return _error(errors.MethodNotAllowed("POST only"))
            try:
                internal_auth.verify(request.headers.get("Authorization"), name)
            except errors.ApiError as err:   # nothing is read or changed for a refused caller
                log.warning("%s refused its caller: %s", name, err.code, extra={"function": name})
                return _error(err)
            try:
                payload = parse(request)
                result = handler(payload) or {}
            except Drop as exc:
                return _dropped(exc.reason, exc.detail)
            except (Retry, errors.Unavailable, ConfigError) as exc:
                log.warning("%s will be retried: %s", name, exc, extra={"function": name})
                return _error(errors.Unavailable(str(exc) if isinstance(exc, Retry) else "Try again later",
                                                 code="retry"))
            except errors.ApiError as exc:
                # A domain refusal (the conversation was closed meanwhile, an id that names nothing):
                # no retry can change it, and any non-2xx would be retried.
                return _dropped(exc.code, exc.message)
            except Exception:
                log.exception("%s failed", name, extra={"function": name})
                return _error(errors.ApiError("Internal error", code="internal", status=500))
            return 200, {"ok": True, **result}, "done"

        def _dropped(reason: str, detail: str) -> tuple[int, dict, str]:
            log.warning("%s dropped a delivery: %s %s", name, reason, detail,
                        extra={"function": name, "dropped": reason, "detail": detail})
            return 200, {"ok": False, "dropped": reason}, "dropped"

        entry.__name__ = name
        entry.__doc__ = handler.__doc__
        entry.handler = handler  # for unit tests of the pure logic
        return entry

    return wrap


def _error(err: errors.ApiError) -> tuple[int, dict, str]:
    return err.status, err.body(), err.code
