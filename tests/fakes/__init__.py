"""Local stand-ins for SaaS we cannot reach (Twilio, OpenAI), speaking their wire formats."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 for one fake; subclasses call `_serve(handler_class)`."""
    port: int

    def _serve(self, handler) -> None:
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
