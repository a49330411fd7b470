"""A local HTTP endpoint for tests that something of ours calls (the local push, the scheduler
driver): it records each POST (time, headers, JSON body) and answers what the test decides."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Endpoint:
    """A local HTTP endpoint recording what is pushed to it; `answer(body) -> status` decides."""

    def __init__(self, answer, path: str = "/push"):
        self.answer, self.lock, self.calls = answer, threading.Lock(), []
        self.in_flight = self.most_in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else None
                with outer.lock:
                    outer.in_flight += 1
                    outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                    outer.calls.append((time.monotonic(), dict(self.headers), body))
                try:
                    status = outer.answer(body)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self):
        self.server.shutdown()
