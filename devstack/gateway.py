"""Local gateway: every function of the manifest behind one port, routed as production routes.

Public HTTP functions are matched by method and path (as the API gateway/Hosting rewrites do, the
full path is forwarded). `/_fn/<name>` is a function's own URL: Pub/Sub push subscriptions, Cloud
Tasks and Cloud Scheduler call it, so the local chain is the production chain. Each function is a
separate functions-framework app built from `functions/main.py`.
"""
from __future__ import annotations

import json
import threading
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


def function_app(name: str):
    """Function `name` as its own functions-framework app, as Cloud Functions builds it."""
    return create_app(name, SOURCE, manifest.get(name).signature_type)


class Gateway:
    """Builds each function's app on its first request, as a cold start would."""

    def __init__(self):
        self._apps: dict = {}
        self._lock = threading.Lock()  # create_app swaps sys.modules["main"]: one at a time

    def app(self, name: str):
        app = self._apps.get(name)
        if app is None:
            with self._lock:
                app = self._apps.get(name)
                if app is None:
                    app = self._apps[name] = function_app(name)
        return app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_fn/"):
            name, _, rest = path[len("/_fn/"):].partition("/")
            if name not in manifest.by_name():
                return _error(start_response, "404 Not Found", "function_not_found", "No such function")
            # A function's own URL: HTTP functions still see their route path, others see "/".
            environ["PATH_INFO"] = "/" + rest
            return self.app(name)(environ, start_response)
        matches = manifest.match_path(path)
        if not matches:
            return _error(start_response, "404 Not Found", "route_not_found", f"No route for {path}")
        for fn, _ in matches:
            if fn.method == method or method == "OPTIONS":
                return self.app(fn.name)(environ, start_response)
        allowed = ", ".join(sorted({fn.method for fn, _ in matches} | {"OPTIONS"}))
        return _error(start_response, "405 Method Not Allowed", "method_not_allowed",
                      f"{method} is not allowed on {path}", [("Allow", allowed)])


app = Gateway()
