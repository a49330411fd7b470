"""The web chat widget's static files and the demo shop page, as the local stack serves them.

`/webchat/widget.js` and `/webchat/socket.io.min.js` (socket.io-client from npm, installed in
webchat-widget/ by scripts/setup) are what a site's one `<script>` tag loads; `/demo/shop.html`
is a fictional shop embedding the widget of the channel its query names (`?channel=wk_...`), with
the API at the gateway and the relay at `?relay=` (default: this stack's relay port).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

WIDGET = Path(__file__).resolve().parent.parent / "webchat-widget"
FILES = {"widget.js": WIDGET / "widget.js",
         "socket.io.min.js": WIDGET / "node_modules/socket.io-client/dist/socket.io.min.js"}
_KEY = re.compile(r"^wk_[0-9a-f]{32}$")
_BASE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-cache")]


def demo_page(channel_key: str, api_base: str, relay: str) -> bytes:
    """The shop page embedding `channel_key`'s widget (values checked: they land in HTML)."""
    if not (_KEY.match(channel_key) and _BASE.match(api_base) and _BASE.match(relay)):
        raise ValueError("channel key, API and relay must be a web channel key and two origins")
    page = (WIDGET / "demo/shop.html").read_text()
    return page.replace("{{API}}", api_base).replace("{{CHANNEL}}", channel_key).replace("{{RELAY}}", relay).encode()


def serve(environ, start_response, relay_port: int):
    """A WSGI answer for /webchat/<file> and /demo/shop.html."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/webchat/") and path[len("/webchat/"):] in FILES:
        body, kind = FILES[path[len("/webchat/"):]].read_bytes(), "text/javascript; charset=utf-8"
    elif path == "/demo/shop.html":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        host = environ.get("HTTP_HOST", "127.0.0.1")
        hostname = host.rsplit(":", 1)[0]
        try:
            body = demo_page((query.get("channel") or [""])[0], f"http://{host}",
                             (query.get("relay") or [f"http://{hostname}:{relay_port}"])[0])
        except ValueError as exc:
            return _answer(start_response, "400 Bad Request", str(exc).encode(), "text/plain")
        kind = "text/html; charset=utf-8"
    else:
        return _answer(start_response, "404 Not Found", b"not found", "text/plain")
    return _answer(start_response, "200 OK", body, kind)


def _answer(start_response, status: str, body: bytes, kind: str):
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body))), *_HEADERS])
    return [body]
