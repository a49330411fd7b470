"""The HTTP layer every HTTP function shares.

`endpoint(name, ...)` wraps a handler with: request id and trace on every log line, CORS for the
configured origins, the spec's security headers, method check, body size limit (413), bearer-token
authentication, the route's rate limits (utalk/limits.py: per user, per client IP, per endpoint; 429),
role check, JSON and query-string validation through pydantic models, and the error envelope
`{"error": {"code", "message", "details"}}`. A handler receives a `Call` and returns data (dict, list
or pydantic model), `(data, status)`, or a ready `flask.Response`.

What a route answers is declared on the same line (`response=`, `raises=`) and kept on the entry as
`entry.contract`: the API contract (`contract/openapi.py`) is generated from it and the manifest,
and nothing here reads it at request time beyond the deprecation headers.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import flask
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from utalk.auth.tokens import Principal

from utalk import deprecation, errors, limits, logs, manifest
from utalk.config import ConfigError, settings, startup_error

log = logs.get("http")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, X-Requested-With, X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Firestore's own limit on nested maps and arrays: anything deeper could never be stored, and
# deeper still would exhaust the parser's recursion (a 500) long before the 10 MB body limit.
MAX_JSON_DEPTH = 20
# How many X-Forwarded-For entries, counted from the right, Google's infrastructure appended
# (see client_ip): 1 when a function is called at its own URL, 2 behind a load balancer.
FORWARDED_HOPS = max(1, int(os.environ.get("UTALK_FORWARDED_HOPS", "1")))


@dataclass
class Call:
    """What a handler gets: the request, its id, the caller, and the validated inputs."""
    request: flask.Request
    request_id: str
    params: dict[str, str]
    principal: "Principal | None" = None
    body: Any = None
    query: Any = None
    deprecation: dict = field(default_factory=dict)   # headers: the body used a deprecated field

    @property
    def workspace_id(self) -> str:
        assert self.principal is not None
        return self.principal.workspace_id

    @property
    def client_ip(self) -> str:
        return client_ip(self.request)


@dataclass(frozen=True)
class Contract:
    """A route's declared inputs and answers, beside the manifest row (for the OpenAPI document)."""
    name: str
    auth: bool
    role: str | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    request: str | None                 # media type of a body the handler reads itself (forms, multipart)
    # status -> a model (JSON), "module:Model" (the same, imported only by the generator: routes whose
    # cold start must not build models), None (no body), `dict` (any JSON object), or a media type
    # the handler writes itself ("text/xml")
    responses: dict[int, Any]
    raises: tuple[int, ...]             # error statuses the handler itself raises (404, 409, ...)


def _responses(response: Any) -> dict[int, Any]:
    if response is None:
        return {}   # undeclared: tests/unit/test_contract.py refuses it
    if isinstance(response, dict) and all(isinstance(k, int) for k in response):
        return dict(response)
    return {200: response}


def json_response(data: Any, status: int = 200) -> flask.Response:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", by_alias=True)
    return flask.Response(json.dumps(data, separators=(",", ":"), default=str), status=status,
                          mimetype="application/json")


def error_response(err: errors.ApiError) -> flask.Response:
    resp = json_response(err.body(), err.status)
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


def _http_error(exc: HTTPException) -> errors.ApiError:
    """An error werkzeug or Flask raised (unroutable path, unreadable form) as one of ours."""
    codes = {404: "route_not_found", 405: "method_not_allowed", 413: "payload_too_large",
             415: "unsupported_media_type"}
    return errors.ApiError(exc.description or exc.name, code=codes.get(exc.code, "bad_request"),
                           status=exc.code or 400)


def _flask_error(exc: HTTPException) -> flask.Response:
    resp = error_response(_http_error(exc))
    resp.headers.update(SECURITY_HEADERS)
    return resp


def refuse_misconfigured() -> flask.Response:
    """Fail closed: what every route of an instance with a bad configuration answers (the reason
    is in this instance's CRITICAL log line, never told to the caller)."""
    resp = error_response(errors.Unavailable("This instance is misconfigured and refuses to serve",
                                             code="misconfigured"))
    resp.headers.update(SECURITY_HEADERS)
    return resp


def install_error_handlers() -> None:
    """Answer the errors Flask raises before any function runs (a path its router refuses, such as
    one with a newline; functions-framework's /favicon.ico) with the envelope too, on the
    functions-framework app being built (functions/main.py calls this while it loads a target)."""
    if flask.has_app_context():
        flask.current_app.register_error_handler(HTTPException, _flask_error)


def _contended(exc: BaseException) -> bool:
    """A Firestore transaction that kept aborting on a document other requests were changing
    (the client library gives up with a ValueError caused by the last Aborted)."""
    from google.api_core.exceptions import Aborted  # loaded with the Firestore client already

    return isinstance(exc, Aborted) or isinstance(exc.__cause__, Aborted)


def _backend_unavailable(exc: BaseException) -> bool:
    """Firestore, Pub/Sub or another Google backend unreachable or too slow: a retry can succeed
    (Meta, Pub/Sub and Cloud Tasks retry a 503), and it is not a bug of ours (a 500 is)."""
    from google.api_core.exceptions import DeadlineExceeded, RetryError, ServiceUnavailable

    return isinstance(exc, (ServiceUnavailable, DeadlineExceeded, RetryError, TimeoutError))


def request_id(request: flask.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _trace(request: flask.Request) -> str:
    """The request's trace (from Google's front end, or a new one: a webhook starts the trace
    its message carries through the chain, docs in utalk.logs)."""
    trace_id = logs.trace_id_from(request.headers.get(logs.TRACE_HEADER)) or logs.new_trace_id()
    return logs.trace_path(settings().project_id, trace_id)


def _cors(request: flask.Request, resp: flask.Response, origins: tuple[str, ...]) -> None:
    origin = request.headers.get("Origin")
    if origin and origin in origins:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
        resp.headers.add("Vary", "Origin")


def authenticate(request: flask.Request) -> "Principal":
    from utalk.auth.tokens import InvalidToken, verify_access_token  # only authenticated functions load PyJWT

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("Missing bearer token", code="missing_token")
    try:
        return verify_access_token(token.strip())
    except InvalidToken:
        raise errors.Unauthorized("Invalid or expired token", code="invalid_token") from None


def client_ip(request: flask.Request) -> str:
    """The caller's address, as the per-IP limits key it.

    Google's front end appends the address it accepted the connection from to X-Forwarded-For
    (and a load balancer or API Gateway its own after it); whatever stands to the left of Google's
    entries came from the client and can say anything. So the one entry trusted is the
    FORWARDED_HOPS-th from the right. Without the header (the local gateway called directly) it is
    the socket's peer. An IPv6 client is keyed by its /64, the block one subscriber gets.
    """
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")
    value = forwarded[-FORWARDED_HOPS].strip() if len(forwarded) >= FORWARDED_HOPS and forwarded[-1] else ""
    try:
        address = ipaddress.ip_address(value or request.remote_addr or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, no lone surrogates, at most MAX_JSON_DEPTH deep."""
    try:
        data = json.loads(raw.decode("utf-8") if raw else "null", parse_constant=_not_json)
    except RecursionError:
        raise errors.BadRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", code="invalid_json") from None
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Malformed JSON body", code="invalid_json") from None
    stack = [(data, 0)]  # iterative: the check itself must not recurse as deep as the input
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise errors.BadRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", code="invalid_json")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    stack.append((key, depth))
                stack.append((item, depth + 1))
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # "\ud800": valid JSON, but no Unicode text (nor storable)
                raise errors.BadRequest("JSON strings must be Unicode text (lone surrogate escape)",
                                        code="invalid_json") from None
    return data


def _read_json(request: flask.Request, model: type[BaseModel]):
    if not (request.mimetype or "").endswith("json"):
        raise errors.UnsupportedMediaType("Body must be application/json")
    data = parse_json(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise errors.BadRequest("JSON body must be an object", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.ValidationFailed("Request body is invalid", details={"fields": errors.field_errors(exc)}) \
            from None


def _read_query(request: flask.Request, model: type[BaseModel]):
    args = {k: v if len(v) > 1 else v[0] for k, v in request.args.lists()}
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise errors.BadRequest("Query string is invalid", code="invalid_query",
                                details={"fields": errors.field_errors(exc)}) from None


def check_size(request: flask.Request, streamed_limit: int | None = None) -> None:
    """413 past the body limit. `streamed_limit` (a manifest row's `max_body_bytes`): the route reads
    its body as a stream, so a chunked body is limited while it is read (werkzeug raises 413 past
    it) instead of being buffered here."""
    limit = streamed_limit or settings().max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise errors.PayloadTooLarge(f"Body exceeds {limit} bytes")
    if length is None and streamed_limit:
        request.max_content_length = limit
        return
    if length is None and request.method in ("POST", "PUT", "PATCH"):
        # Chunked upload without a length: read at most one byte past the limit, never the whole stream.
        data = request.stream.read(limit + 1)
        if len(data) > limit:
            raise errors.PayloadTooLarge(f"Body exceeds {limit} bytes")
        request._cached_data = data  # what get_data() returns from now on


def _count(call: Call, plan) -> None:
    """Count the request against each limit of the route's plan, keyed by user or client IP."""
    from utalk import ratelimit  # on the first limited request: health.py's liveness never loads it

    def key(scope: str) -> str:
        return f"{call.principal.workspace_id}/{call.principal.user_id}" if scope == "user" else call.client_ip

    ratelimit.take(*[(limit, key(scope)) for limit, scope in plan])


def endpoint(name: str, *, role: str | None = None, auth: bool = True,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: Any = None, raises: tuple[int, ...] = (), request: str | None = None,
             cors: Callable[[dict[str, str]], tuple[str, ...]] | None = None,
             ) -> Callable[[Callable[[Call], Any]], Callable[[flask.Request], flask.Response]]:
    """Wrap `handler(call)` as the HTTP entry point of manifest function `name`.

    `response`: the model of a 200 (or `{status: model}` for other or several successes);
    `raises`: the error statuses the handler raises itself, beyond those this layer answers
    (401/403 for auth and role, 400/413/415/422 for a body, 400 for a query, 429, 503);
    `cors(path params)`: the origins this route answers to instead of UTALK_CORS_ORIGINS (a web
    chat's own sites)."""
    fn = manifest.get(name)
    announced = deprecation.headers(fn.deprecated, fn.deprecation_note) if fn.deprecated else {}
    deprecated_fields = deprecation.field_deprecations(body) if body is not None else {}
    contract = Contract(name, auth, role, body, query, request, _responses(response), tuple(sorted(raises)))
    route = manifest.route_regex(fn.path)
    plan = limits.plan(name, fn.path, auth)
    if not auth and any(scope == "user" for _, scope in plan):
        raise ValueError(f"{name}: a per-user limit needs an authenticated route")

    def origins(request: flask.Request) -> tuple[str, ...]:
        if cors is None:
            return settings().cors_origins
        if not request.headers.get("Origin"):
            return ()
        match = route.match(request.path)
        return cors(match.groupdict()) if match else ()

    def wrap(handler: Callable[[Call], Any]):
        def entry(request: flask.Request) -> flask.Response:
            if startup_error() is not None:
                return refuse_misconfigured()
            started = time.perf_counter()
            rid = request_id(request)
            rid_token, trace_token = logs.request_id.set(rid), logs.trace.set(_trace(request))
            resp = _dispatch(request, rid)
            if announced:
                resp.headers.update(announced)
            _cors(request, resp, origins(request))
            resp.headers.update(SECURITY_HEADERS)
            resp.headers["X-Request-Id"] = rid
            log.info("%s %s %s", request.method, request.path, resp.status_code, extra={
                "function": name, "status": resp.status_code,
                "latencyMs": round((time.perf_counter() - started) * 1000, 1),
                "httpRequest": {"requestMethod": request.method, "requestUrl": request.path,
                                "status": resp.status_code}})
            logs.request_id.reset(rid_token)
            logs.trace.reset(trace_token)
            return resp

        def _dispatch(request: flask.Request, rid: str) -> flask.Response:
            if request.method == "OPTIONS":
                resp = flask.Response(status=204)
                if request.headers.get("Origin") in origins(request):
                    resp.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                    resp.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                    resp.headers["Access-Control-Max-Age"] = "600"
                return resp
            try:
                if request.method != fn.method:
                    raise errors.MethodNotAllowed(f"{request.method} is not allowed here",
                                                  headers={"Allow": f"{fn.method}, OPTIONS"})
                match = route.match(request.path)
                if not match:
                    raise errors.NotFound("No such route", code="route_not_found")
                check_size(request, fn.max_body_bytes)
                call = Call(request=request, request_id=rid, params=match.groupdict())
                if auth:
                    call.principal = authenticate(request)
                if plan:  # counted before anything else is done for the caller
                    _count(call, plan)
                if auth and role and not call.principal.at_least(role):
                    raise errors.Forbidden(f"Requires role {role}", code="insufficient_role")
                if query is not None:
                    call.query = _read_query(request, query)
                if body is not None:
                    call.body = _read_json(request, body)
                    if deprecated_fields and not announced:
                        used = [deprecated_fields[f] for f in call.body.model_fields_set if f in deprecated_fields]
                        call.deprecation = deprecation.headers(min(used)) if used else {}
                result = handler(call)
            except errors.Contended:
                return error_response(errors.concurrent())
            except errors.ApiError as err:
                return error_response(err)
            except HTTPException as exc:  # werkzeug refusing what it parses for us (a form, say)
                return error_response(_http_error(exc))
            except ConfigError:  # a secret this call needs is missing: logged, 503 until it is mounted
                log.exception("configuration error in %s", name, extra={"function": name})
                return refuse_misconfigured()
            except Exception as exc:
                if _contended(exc):  # load, not a bug: the caller may simply try again
                    log.warning("transaction contended in %s", name, extra={"function": name})
                    return error_response(errors.concurrent())
                if _backend_unavailable(exc):
                    log.error("backend unavailable in %s: %s", name, exc, extra={"function": name})
                    return error_response(errors.Unavailable("A backend is unavailable; retry", code="retry_later",
                                                             headers={"Retry-After": "1"}))
                # A bug, not bad input: log it whole, tell the client only the id.
                log.exception("unhandled error in %s", name, extra={"function": name})
                return error_response(errors.ApiError(
                    "Internal error", code="internal", status=500, details={"requestId": rid}))
            if isinstance(result, flask.Response):
                resp = result
            elif isinstance(result, tuple):
                resp = json_response(*result)
            else:
                resp = json_response(result)
            resp.headers.update(call.deprecation)
            return resp

        entry.__name__ = name
        entry.__doc__ = handler.__doc__
        entry.handler = handler  # for unit tests of the pure logic
        entry.body_model, entry.query_model = body, query  # what it validates (the garbage test reads them)
        entry.authenticated, entry.limits = auth, plan  # who may call, what each call is counted against
        entry.contract = contract
        return entry

    return wrap
