"""The local stand-in for Google's control plane: the OIDC certificates endpoint and (soon) a Cloud
Scheduler driver.

    python -m devstack.scheduler PORT

`GET /oauth2/v1/certs` serves the stack's signing certificate (devstack/oidc.py) the way Google's
endpoint does, with a Cache-Control max-age.
"""
from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devstack import oidc

CERTS_PATH = "/oauth2/v1/certs"
CERTS_MAX_AGE = 3600


class Handler(BaseHTTPRequestHandler):
    key: dict = {}

    def do_GET(self):
        if self.path == CERTS_PATH:
            return self._json(200, oidc.certs(self.key), {"Cache-Control": f"public, max-age={CERTS_MAX_AGE}"})
        return self._json(404, {"error": {"code": 404, "message": "not found"}})

    def _json(self, status: int, body, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # quiet: the functions log what matters
        pass


def main(port: int) -> None:
    Handler.key = oidc.load()
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
