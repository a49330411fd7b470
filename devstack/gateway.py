"""Local gateway: every function of the manifest behind one port, routed as production routes.

Public HTTP functions are matched by method and path (as the API gateway/Hosting rewrites do, the
full path is forwarded). `/_fn/<name>` is a function's own URL: Cloud Tasks and Cloud Scheduler
call it, and so does Pub/Sub push (devstack/pusher.py, Google's push service locally), so the local
chain is the production chain; it never adds credentials, so a caller without a valid OIDC token is
refused there as in production. Each function is a separate functions-framework app built from
`functions/main.py`. `/docs` renders the API contract (DOCS: Swagger UI over the served
`/api/v1/openapi.json`, the AsyncAPI page over docs/asyncapi.json), from npm's static files only;
`/report/` serves the static analytics report page (REPORT: `web/report/`, with Chart.js from
`web/node_modules`).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from functions_framework import create_app

from utalk import manifest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = str(ROOT / "functions" / "main.py")
_DOCS, _NPM = ROOT / "devstack" / "docs", ROOT / "devstack" / "docs" / "node_modules"
_HTML, _JS = "text/html; charset=utf-8", "text/javascript"
# The static pages and the files they load, URL -> (file, media type): exactly these paths, nothing
# else of the disk.
DOCS = {
    "/docs": (_DOCS / "index.html", _HTML),
    "/docs/asyncapi": (_DOCS / "asyncapi.html", _HTML),
    "/docs/asyncapi.json": (ROOT / "docs" / "asyncapi.json", "application/json"),
    "/docs/static/swagger-ui.css": (_NPM / "swagger-ui-dist" / "swagger-ui.css", "text/css"),
    "/docs/static/swagger-ui-bundle.js": (_NPM / "swagger-ui-dist" / "swagger-ui-bundle.js", _JS),
    "/docs/static/asyncapi.css": (_NPM / "@asyncapi/react-component/styles/default.min.css", "text/css"),
    "/docs/static/asyncapi.js": (_NPM / "@asyncapi/react-component/browser/standalone/index.js", _JS),
}
REPORT = {
    "/report/": (ROOT / "web" / "report" / "index.html", _HTML),
    "/report/report.js": (ROOT / "web" / "report" / "report.js", _JS + "; charset=utf-8"),
    "/report/report.css": (ROOT / "web" / "report" / "report.css", "text/css"),
    "/report/vendor/chart.umd.js": (ROOT / "web" / "node_modules" / "chart.js" / "dist" / "chart.umd.js", _JS + "; charset=utf-8"),
}
# The report page loads only its own files; the docs pages start their renderers with an inline
# script, so they do without the self-only policy.
_REPORT_HEADERS = [("Content-Security-Policy", "default-src 'self'; style-src 'self'"), ("Cache-Control", "no-cache")]
_SECURITY = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")]


def _error(start_response, status: str, code: str, message: str, extra=()):
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *_SECURITY, *extra])
    return [body]


def _static(start_response, path: str):
    file, mimetype = (DOCS.get(path) or REPORT.get(path) or (None, None))
    if file is None:
        return _error(start_response, "404 Not Found", "route_not_found", f"No page at {path}")
    if not file.is_file():
        return _error(start_response, "404 Not Found", "docs_not_installed", f"{file.name} is missing: run scripts/setup")
    body = file.read_bytes()
    start_response("200 OK", [("Content-Type", mimetype), ("Content-Length", str(len(body))),
                              *(_REPORT_HEADERS if path in REPORT else ()), *_SECURITY])
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
        if method == "GET" and (path.startswith("/webchat/") or path.startswith("/demo/")):
            from devstack import webchat_static   # the widget's files, as a CDN or Hosting would serve them
            return webchat_static.serve(environ, start_response, int(os.environ.get("UTALK_RELAY_PORT", "3002")))
        if path == "/report":
            start_response("301 Moved Permanently", [("Location", "/report/"), ("Content-Length", "0")])
            return [b""]
        if path.startswith("/report/"):
            return _static(start_response, path)
        if path.startswith("/_fn/"):
            name, _, rest = path[len("/_fn/"):].partition("/")
            if name not in manifest.by_name():
                return _error(start_response, "404 Not Found", "function_not_found", "No such function")
            # A function's own URL: HTTP functions still see their route path, others see "/".
            environ["PATH_INFO"] = "/" + rest
            return self.app(name)(environ, start_response)
        if method == "GET" and path.rstrip("/") in DOCS:
            return _static(start_response, path.rstrip("/"))
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
