"""Local gateway: every function of the manifest behind one port, routed as production routes.

Public HTTP functions are matched by method and path (as the API gateway/Hosting rewrites do, the
full path is forwarded). `/_fn/<name>` is a function's own URL: Pub/Sub push subscriptions, Cloud
Tasks and Cloud Scheduler call it, so the local chain is the production chain. Each function is a
separate functions-framework app built from `functions/main.py`.
"""
from __future__ import annotations

import json
from pathlib import Path

from functions_framework import create_app

from utalk import manifest

SOURCE = str(Path(__file__).resolve().parent.parent / "functions" / "main.py")
_SECURITY = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")]


def _error(start_response, status: str, code: str, message: str, extra=()):
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *_SECURITY, *extra])
    return [body]


class Gateway:
    def __init__(self):
        self.apps = {fn.name: create_app(fn.name, SOURCE, fn.signature_type) for fn in manifest.FUNCTIONS}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_fn/"):
            name, _, rest = path[len("/_fn/"):].partition("/")
            if name not in self.apps:
                return _error(start_response, "404 Not Found", "function_not_found", "No such function")
            # A function's own URL: HTTP functions still see their route path, others see "/".
            environ["PATH_INFO"] = "/" + rest
            return self.apps[name](environ, start_response)
        matches = manifest.match_path(path)
        if not matches:
            return _error(start_response, "404 Not Found", "route_not_found", f"No route for {path}")
        for fn, _ in matches:
            if fn.method == method or method == "OPTIONS":
                return self.apps[fn.name](environ, start_response)
        allowed = ", ".join(sorted({fn.method for fn, _ in matches} | {"OPTIONS"}))
        return _error(start_response, "405 Method Not Allowed", "method_not_allowed",
                      f"{method} is not allowed on {path}", [("Allow", allowed)])


app = Gateway()
