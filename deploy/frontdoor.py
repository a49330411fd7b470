"""The front door: one API Gateway whose OpenAPI 2.0 document is generated from the HTTP rows.

Each operation (method + path) goes to its own function's Cloud Run URL, predictable before the
function exists (`https://SERVICE-PROJECT_NUMBER.REGION.run.app`), with APPEND_PATH_TO_ADDRESS so
the function sees the original `/api/v1/...` path that its route regex matches. `disable_auth`
keeps the caller's `Authorization: Bearer` header untouched (the functions authenticate users
themselves; without it the gateway would put its own ID token there). Every path also answers
OPTIONS through one of its functions, which answers CORS preflights.

Only methods, paths and backends live here; a client-facing OpenAPI 3.1 with schemas is another
document. API configs are immutable, so a config's id is the hash of its document: an unchanged
manifest names an existing config and the deploy changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import re

from deploy import target
from deploy.target import Target
from utalk import manifest


def backend(tgt: Target, name: str) -> str:
    return f"https://{target.service_name(name)}-{tgt.project_number}.{tgt.region}.run.app"


def _operation(tgt: Target, fn: manifest.Function, operation_id: str) -> dict:
    params = [{"name": p, "in": "path", "required": True, "type": "string"}
              for p in re.findall(r"\{(\w+)\}", fn.path)]
    op = {"operationId": operation_id,
          "x-google-backend": {"address": backend(tgt, fn.name), "path_translation": "APPEND_PATH_TO_ADDRESS",
                               "deadline": float(fn.timeout_seconds), "disable_auth": True},
          "responses": {"default": {"description": "the function's response"}}}
    if params:
        op["parameters"] = params
    return op


def document(tgt: Target, functions: tuple[manifest.Function, ...]) -> dict:
    paths: dict[str, dict] = {}
    for fn in functions:
        if fn.kind != "http":
            continue
        ops = paths.setdefault(fn.path, {})
        ops[fn.method.lower()] = _operation(tgt, fn, fn.name)
        ops.setdefault("options", _operation(tgt, fn, f"{fn.name}_preflight"))
    return {"swagger": "2.0",
            "info": {"title": "utalk", "version": "1", "description": "Generated from the function manifest"},
            "schemes": ["https"], "produces": ["application/json"],
            "paths": dict(sorted(paths.items()))}


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def config_id(doc: dict) -> str:
    return f"utalk-{hashlib.sha256(render(doc).encode()).hexdigest()[:12]}"
