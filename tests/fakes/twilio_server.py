"""A local HTTP server speaking Twilio's Messages API wire format, for tests.

The product's official `twilio` client is pointed at it (TWILIO_API_BASE_URL). It checks HTTP basic
auth like Twilio, records every created message, can be told to fail the next calls (5xx, 429 or a
4xx with a Twilio error code), and serves media files the way Twilio's media URLs do.

A message with `MediaUrl`s makes it fetch each URL, as Twilio does before sending, and refuse the
message when a fetch fails or answers a Content-Type WhatsApp does not accept (Twilio reports that
later, as a failed status with error 11200 / 12300; the fake answers the create call with it).
"""
from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import requests

from fakes import LocalServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sandbox-auth-token-local-only-000000"   # what the stack resolves in test env
# What Twilio accepts at a WhatsApp MediaUrl (its accepted MIME types for WhatsApp).
WHATSAPP_MEDIA_TYPES = {
    "image/jpeg", "image/png", "image/webp", "audio/ogg", "audio/amr", "audio/3gpp", "audio/aac", "audio/mpeg",
    "audio/mp4", "video/mp4", "video/3gpp", "application/pdf", "text/vcard", "text/x-vcard", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


@dataclass
class FakeTwilio(LocalServer):
    port: int
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    sent: list[dict] = field(default_factory=list)
    failures: list[tuple[int, int, str]] = field(default_factory=list)   # (status, code, message)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_hits: int = 0
    media_fetches: list[dict] = field(default_factory=list)   # each MediaUrl fetched: url, status, type, bytes

    def __post_init__(self):
        self._serve(_handler(self))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.failures.clear()
            self.media.clear()
            self.media_hits = 0
            self.media_fetches.clear()

    def fail_next(self, status: int, times: int = 1, code: int = 20500, message: str = "Internal error"):
        with self.lock:
            self.failures.extend([(status, code, message)] * times)

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        self.media[name] = (data, content_type)
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/MM{name}/Media/{name}"

    def sent_to(self, to: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent if m["To"] == to]


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            return header == f"Basic {expected}"

        def _json(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: int, message: str) -> None:
            self._json(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                "status": status})

        def do_GET(self):
            if not self._authorized():
                return self._error(401, 20003, "Authenticate")
            name = self.path.rsplit("/", 1)[-1]
            if name not in fake.media:
                return self._error(404, 20404, "Not found")
            data, content_type = fake.media[name]
            with fake.lock:
                fake.media_hits += 1
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 4 or parts[0] != "2010-04-01" or parts[3] != "Messages.json":
                return self._error(404, 20404, "Not found")
            if not self._authorized() or parts[2] != fake.account_sid:
                return self._error(401, 20003, "Authenticate")
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            with fake.lock:
                failure = fake.failures.pop(0) if fake.failures else None
            if failure:
                return self._error(*failure)
            if not form.get("To") or not (form.get("Body") or form.get("ContentSid") or form.get("MediaUrl")):
                return self._error(400, 21602, "Message body is required.")
            refused = self._fetch_media(form.get("MediaUrl"))
            if refused:
                return self._error(400, *refused)
            sid = "SM" + uuid.uuid4().hex
            with fake.lock:
                fake.sent.append({**form, "sid": sid})
            self._json(201, {
                "sid": sid, "account_sid": fake.account_sid, "to": form["To"], "from": form.get("From"),
                "body": form.get("Body", ""), "status": "queued", "num_media": "0", "num_segments": "1",
                "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
                "error_message": None, "messaging_service_sid": None,
                "date_created": "Thu, 26 Nov 2026 12:00:00 +0000", "date_updated": "Thu, 26 Nov 2026 12:00:00 +0000",
                "date_sent": None, "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}/Media.json"}})

        def _fetch_media(self, urls) -> tuple[int, str] | None:
            for url in [urls] if isinstance(urls, str) else urls or []:
                try:
                    resp = requests.get(url, timeout=10)
                except requests.RequestException as exc:
                    fake.media_fetches.append({"url": url, "status": None, "contentType": None, "error": str(exc)})
                    return 11200, "HTTP retrieval failure"
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                with fake.lock:
                    fake.media_fetches.append({"url": url, "status": resp.status_code, "contentType": content_type,
                                               "body": resp.content})
                if resp.status_code != 200:
                    return 11200, "HTTP retrieval failure"
                if content_type not in WHATSAPP_MEDIA_TYPES:
                    return 12300, "Invalid Content-Type"
            return None

    return Handler


_shared: FakeTwilio | None = None
_shared_lock = threading.Lock()


def shared(port: int) -> FakeTwilio:
    """One fake per test process on the stack's port, however many conftests ask for it."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeTwilio(port).start()
        return _shared
