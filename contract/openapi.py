"""The OpenAPI 3.1 document of the REST API, generated from the manifest and each route's declaration.

Every HTTP row of the manifest is one operation (method, path, path params, auth, role); its
request and response bodies are the pydantic models its `http.endpoint(...)` line names
(`entry.contract`, utalk/http.py), as pydantic's JSON Schema. The error statuses are those the HTTP
layer answers for what the route declares (401/403 with auth and a role, 400/413/415/422 with a
body, 400 with a query, 404 with path params, 429 and 503 everywhere) plus the ones the handler
raises itself (`raises=`). Nothing here is imported at runtime: the API serves the committed file.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contract import ROOT
from utalk import deprecation, manifest

DOC = ROOT / "docs" / "openapi.json"
VERSION = "1.0.0"   # the API's contract version; a breaking change needs a new major (contract/compat.py)

ERROR_STATUSES = {
    400: ("BadRequest", "Malformed JSON, an invalid query string or cursor, or a refused input", "bad_request"),
    401: ("Unauthorized", "Missing, invalid or expired bearer token (or bad credentials)", "invalid_token"),
    403: ("Forbidden", "Authenticated but not allowed (role, ownership, signature)", "insufficient_role"),
    404: ("NotFound", "No such resource in the caller's workspace (or one it may not see)", "not_found"),
    409: ("Conflict", "The resource's state does not allow it, or a concurrent update won", "conflict"),
    413: ("PayloadTooLarge", "The body exceeds the route's limit", "payload_too_large"),
    415: ("UnsupportedMediaType", "The body is not of the media type the route reads", "unsupported_media_type"),
    422: ("ValidationFailed", "The body is well-formed but its fields are invalid", "validation_failed"),
    429: ("RateLimited", "A rate limit was hit; retry after `Retry-After` seconds", "rate_limited"),
    503: ("Unavailable", "A dependency is unavailable or the instance is misconfigured; retry later", "unavailable"),
}
ERROR_ENVELOPE = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "description": "Every error: a stable machine code, a human message, and details (field errors, limits).",
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "examples": ["validation_failed"]},
            "message": {"type": "string"},
            "details": {"description": "null, or an object such as `{\"fields\": [...]}` or the limit hit"},
        }}},
}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "The access token of `POST /api/v1/auth/login` (HS256, short-lived; "
                                  "refresh with `POST /api/v1/auth/refresh`)."},
    "visitorAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A web chat visitor's token (`token` of `POST /api/v1/webchat/{channelKey}/sessions`; "
                                   "audience `utalk-visitor`, 1 h). Valid only on the visitor routes of its own "
                                   "channel; agent routes refuse it (401), and these routes refuse an agent's token."},
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature",
                        "description": "Twilio's HMAC-SHA1 of the configured public URL and the sorted form "
                                       "fields, keyed by the channel's auth token. Bad or missing: 403."},
    "metaSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256",
                      "description": "`sha256=` + HMAC-SHA256 of the raw body keyed by the Meta app secret "
                                     "of the Page's channel. Bad or missing: 403."},
}
# Stateful links (OpenAPI `links`): what a success of the producer names, and the operations that
# take it. Each is attached to every JSON success of the producer; a client (schemathesis's state
# machine, tests/contract) follows them: create a user, then get, change, deactivate that user.
LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "users_create": {f"{verb}User": (op, {"userId": "$response.body#/id"}) for verb, op in (
        ("Get", "users_get"), ("Update", "users_update"), ("Deactivate", "users_deactivate"))},
    "channels_create": {f"{verb}Channel": (op, {"channelId": "$response.body#/id"}) for verb, op in (
        ("Get", "channels_get"), ("Update", "channels_update"), ("SetCredentialsOf", "channels_set_credentials"),
        ("Delete", "channels_delete"))},
    "media_upload_start": {"GetMedia": ("media_get", {"mediaId": "$response.body#/mediaId"}),
                           "CompleteUpload": ("media_upload_complete", {"mediaId": "$response.body#/mediaId"})},
    "messages_send": {"GetConversation": ("conversations_get", {"conversationId": "$response.body#/conversationId"}),
                      "ListMessages": ("messages_list", {"conversationId": "$response.body#/conversationId"})},
    "conversations_escalate": {
        "AcceptEscalation": ("escalations_accept", {"escalationId": "$response.body#/escalation/id"}),
        "RejectEscalation": ("escalations_reject", {"escalationId": "$response.body#/escalation/id"})},
    "flags_set_override": {"ClearOverride": ("flags_clear_override", {"flagKey": "$request.path.flagKey"})},
}

# Which signature a provider webhook carries (by path prefix); the rest of /webhooks/ carries none.
WEBHOOK_SIGNATURES = {("POST", "/webhooks/twilio/"): "twilioSignature", ("POST", "/webhooks/messenger"): "metaSignature"}


def _functions_path() -> None:
    for path in (ROOT / "functions", ROOT / "shared"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def routes() -> list[tuple[manifest.Function, Any]]:
    """Every HTTP row of the manifest with its handler's entry (whose `.contract` is its declaration)."""
    _functions_path()
    found = []
    for fn in manifest.FUNCTIONS:
        if fn.path:
            module, attr = fn.handler.split(":")
            found.append((fn, getattr(importlib.import_module(module), attr)))
    return found


def model(value: Any) -> type[BaseModel] | None:
    """The model a response declaration names (a class, or "module:Model"), None for other bodies."""
    if isinstance(value, str) and ":" in value and "/" not in value:
        module, name = value.split(":")
        value = getattr(importlib.import_module(module), name)
    return value if isinstance(value, type) and issubclass(value, BaseModel) else None


def _models(contracts) -> list[tuple[type[BaseModel], str]]:
    wanted: dict[tuple[type, str], None] = {}
    for c in contracts:
        for given in (c.body, c.query):
            if given is not None:
                wanted[(given, "validation")] = None
        for value in c.responses.values():
            if model(value) is not None:
                wanted[(model(value), "serialization")] = None
    return list(wanted)


def _content(value: Any, refs: dict) -> dict | None:
    if value is None:
        return None
    if value is dict:
        return {"application/json": {"schema": {"type": "object"}}}
    if model(value) is not None:
        return {"application/json": {"schema": refs[(model(value), "serialization")]}}
    return {value: {"schema": {"type": "string"}}}


def error_statuses(fn: manifest.Function, c) -> list[int]:
    """Every error status the route can answer: what the HTTP layer checks for it, and its own."""
    statuses = {429, 503} | set(c.raises)
    if c.auth:
        statuses.add(401)
    if c.auth and c.role:
        statuses.add(403)
    if c.body is not None:
        statuses |= {400, 415, 422}
    if c.query is not None:
        statuses.add(400)
    if fn.method in ("POST", "PUT", "PATCH"):
        statuses.add(413)
    if manifest.route_params(fn.path):
        statuses.add(404)
    return sorted(statuses)


def _query_schema(schema: dict) -> dict:
    """A query field's schema: an absent parameter is how a query string says None (no "null")."""
    schema = {k: v for k, v in schema.items() if k != "title" and not (k == "default" and v is None)}
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    if "anyOf" in schema and len(branches) == 1:
        del schema["anyOf"]
        schema.update(branches[0])
    return schema


def _parameters(fn: manifest.Function, c, schemas: dict, refs: dict) -> list[dict]:
    # A path segment names one document: at most 200 characters (repositories.base.safe_id).
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
              for p in manifest.route_params(fn.path)]
    if c.query is not None:
        model = schemas[refs[(c.query, "validation")]["$ref"].rsplit("/", 1)[1]]
        required = set(model.get("required", ()))
        for name, schema in model["properties"].items():
            param = {"name": name, "in": "query", "required": name in required, "schema": _query_schema(schema)}
            if schema.get("deprecated"):
                param["deprecated"] = True
            params.append(param)
    return params


def _operation(fn: manifest.Function, entry, schemas: dict, refs: dict) -> dict:
    c = entry.contract
    doc = (entry.__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else fn.name.replace("_", " ")
    op: dict[str, Any] = {"operationId": fn.name, "summary": summary,
                          "tags": [fn.handler.split(":")[0].split("_", 1)[-1]]}
    if c.role:
        op["description"] = f"Requires role `{c.role}` or higher (admin > agent)."
        op["x-role"] = c.role
    params = _parameters(fn, c, schemas, refs)
    if params:
        op["parameters"] = params
    if c.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[(c.body, "validation")]}}}
    elif c.request:
        op["requestBody"] = {"required": True, "content": {c.request: {"schema": {"type": "object"} if "json" in c.request
                                                                         or "form" in c.request else {}}}}
    responses: dict[str, Any] = {} if c.responses else {"200": {"description": "Undeclared"}}
    for status, value in sorted(c.responses.items()):
        resp: dict[str, Any] = {"description": "No content" if value is None else "Success"}
        content = _content(value, refs)
        if content:
            resp["content"] = content
        if fn.name in LINKS and model(value) is not None:
            resp["links"] = {name: {"operationId": op, "parameters": params}
                             for name, (op, params) in sorted(LINKS[fn.name].items())}
        if fn.deprecated or (c.body is not None and deprecation.field_deprecations(c.body)):
            resp["headers"] = {k: {"$ref": f"#/components/headers/{k}"} for k in ("X-Deprecated", "Sunset", "Link")}
        responses[str(status)] = resp
    for status in error_statuses(fn, c):
        if str(status) not in responses:
            responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_STATUSES[status][0]}"}
    op["responses"] = responses
    if c.auth:
        op["security"] = [{"bearerAuth": []}]
    elif getattr(entry, "security", None):   # a route that checks its own token (api_webchat.visitor_route)
        op["security"] = [{entry.security: []}]
    else:
        scheme = next((s for (method, prefix), s in WEBHOOK_SIGNATURES.items()
                       if fn.method == method and fn.path.startswith(prefix)), None)
        op["security"] = [{scheme: []}] if scheme else []
    if fn.deprecated:
        op["deprecated"] = True
        op["x-sunset"] = deprecation.sunset(fn.deprecated).isoformat()
    return op


def _error_responses() -> dict:
    out = {}
    for status, (name, description, code) in ERROR_STATUSES.items():
        resp = {"description": description, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
            "example": {"error": {"code": code, "message": description, "details": None}}}}}
        if status == 429:
            resp["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
        if status == 503:  # a Google backend unavailable (retry_later) says when; a misconfigured instance does not
            resp["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                               "description": "Seconds to wait (absent: misconfigured)"}}
        out[name] = resp
    return out


def build() -> dict:
    """The whole document, deterministic (same manifest and models, same bytes)."""
    found = routes()
    refs, defs = models_json_schema(_models([e.contract for _, e in found]),
                                    ref_template="#/components/schemas/{model}")
    schemas = dict(sorted(defs.get("$defs", {}).items()))
    schemas["ErrorEnvelope"] = ERROR_ENVELOPE
    paths: dict[str, dict] = {}
    for fn, entry in found:
        paths.setdefault(fn.path, {})[fn.method.lower()] = _operation(fn, entry, schemas, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "UTalk API", "version": VERSION,
                 "description": "REST API of UTalk, generated from the function manifest and the handlers' "
                                "models (`python -m contract --write`). Every error answers the envelope "
                                "`{\"error\": {\"code\", \"message\", \"details\"}}`. Realtime events: "
                                "docs/asyncapi.json."},
        "servers": [{"url": "/", "description": "The API's own origin"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "headers": {
                "X-Deprecated": {"schema": {"type": "string", "const": "true"},
                                 "description": "This route, or a field the request used, is deprecated"},
                "Sunset": {"schema": {"type": "string"}, "description": "HTTP date the route goes away (RFC 8594)"},
                "Link": {"schema": {"type": "string"}, "description": "`<migration note>; rel=\"deprecation\"`"},
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
