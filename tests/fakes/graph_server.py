"""A local HTTP server speaking Meta's Graph API wire format for what UTalk calls, for tests.

The Messenger adapter's `requests` calls are pointed at it (MESSENGER_GRAPH_BASE_URL): the Send API
(`POST /{version}/{page-id}/messages`), the token's own Page and app (`GET /{version}/me`,
`GET /{version}/app`) and the user profile API (`GET /{version}/{psid}`). Like Graph it takes the
page token as a bearer header or an `access_token` parameter, checks `appsecret_proof` when one
is sent, and answers errors as `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`. It can be told to fail the next sends (a Graph error code, 5xx), to rate-limit
(613), or to time out (answer late), and it serves attachments at CDN-like URLs of its own origin.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from fakes import JsonHandler, LocalServer

APP_ID = "200000000000001"
APP_SECRET = "fake-graph-app-secret-0123456789ab"
VERIFY_TOKEN = "fake-graph-verify-token-0123456789"


@dataclass
class Page:
    id: str
    token: str
    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    name: str = "Tienda"


@dataclass
class Failure:
    status: int = 400
    code: int = 2
    subcode: int | None = None
    message: str = "Service temporarily unavailable"
    delay: float = 0.0            # answer this late (a timeout when beyond the client's)


@dataclass
class FakeGraph(LocalServer):
    port: int
    pages: dict[str, Page] = field(default_factory=dict)          # page id -> page
    profiles: dict[tuple[str, str], dict] = field(default_factory=dict)   # (page, psid) -> profile
    sent: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)   # (method, path) of every API call
    down: bool = False                                           # every API call answers 503

    def __post_init__(self):
        self._serve(_handler(self))

    def reset(self) -> None:
        with self.lock:
            for collection in (self.pages, self.profiles, self.media):
                collection.clear()
            self.sent.clear()
            self.failures.clear()
            self.calls.clear()
            self.down = False

    def add_page(self, page_id: str | None = None, **kwargs) -> Page:
        page = Page(id=page_id or str(100000000000000 + uuid.uuid4().int % 10**14),
                    token=kwargs.pop("token", None) or "EAAG" + uuid.uuid4().hex * 3, **kwargs)
        with self.lock:
            self.pages[page.id] = page
        return page

    def add_profile(self, page_id: str, psid: str, first_name: str, last_name: str = "") -> None:
        with self.lock:
            self.profiles[(page_id, psid)] = {"first_name": first_name, "last_name": last_name, "id": psid}

    def fail_next(self, times: int = 1, **failure) -> None:
        with self.lock:
            self.failures.extend(Failure(**failure) for _ in range(times))

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        """Serve `data` at a CDN-like URL of this server (returned), as Meta's attachment URLs are."""
        self.media[name] = (data, content_type)
        return f"{self.base_url}/cdn/{name}?oh=signed&oe=ffff"

    def sent_to(self, psid: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent if m["body"]["recipient"]["id"] == psid]

    def count(self, method: str, suffix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.calls if m == method and p.endswith(suffix))


def _handler(fake: FakeGraph):
    class Handler(JsonHandler):
        def _error(self, status: int, code: int, message: str, subcode: int | None = None,
                   kind: str = "OAuthException") -> None:
            error = {"message": message, "type": kind, "code": code, "fbtrace_id": uuid.uuid4().hex[:11]}
            if subcode:
                error["error_subcode"] = subcode
            self._json(status, {"error": error})

        def _page(self, query: dict) -> Page | None | str:
            """The Page whose token the call carries; "proof" when its appsecret_proof is wrong."""
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            token = token if scheme == "Bearer" else (query.get("access_token") or [""])[0]
            with fake.lock:
                page = next((p for p in fake.pages.values() if p.token == token), None)
            proof = (query.get("appsecret_proof") or [None])[0]
            if page is not None and proof is not None and not hmac.compare_digest(
                    proof, hmac.new(page.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()):
                return "proof"
            return page

        def _authorized(self, url) -> Page | None:
            query = parse_qs(url.query)
            page = self._page(query)
            with fake.lock:
                fake.calls.append((self.command, url.path))
            if fake.down:
                self._error(503, 2, "Service temporarily unavailable")
                return None
            if page == "proof":
                self._error(400, 100, "Invalid appsecret_proof provided in the API argument", kind="GraphMethodException")
                return None
            if page is None:
                self._error(400, 190, "Invalid OAuth access token - Cannot parse access token")
                return None
            return page

        def do_GET(self):
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if parts[0] == "cdn" and len(parts) == 2:
                if parts[1] not in fake.media:
                    return self._error(404, 100, "Not found")
                data, content_type = fake.media[parts[1]]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if len(parts) != 2 or not parts[0].startswith("v"):
                return self._error(400, 100, "Unsupported get request")
            page = self._authorized(url)
            if page is None:
                return
            if parts[1] == "me":
                return self._json(200, {"id": page.id, "name": page.name})
            if parts[1] == "app":
                return self._json(200, {"id": page.app_id, "name": "UTalk test app",
                                        "link": f"https://www.facebook.com/games/?app_id={page.app_id}"})
            with fake.lock:
                profile = fake.profiles.get((page.id, parts[1]))
            if profile is None:
                return self._error(400, 100, "Unsupported get request. Object with ID does not exist, cannot be "
                                   "loaded due to missing permissions", subcode=33, kind="GraphMethodException")
            self._json(200, profile)

        def do_POST(self):
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if len(parts) != 3 or parts[2] != "messages":
                return self._error(400, 100, "Unsupported post request")
            page = self._authorized(url)
            if page is None:
                return
            if parts[1] not in (page.id, "me"):
                return self._error(400, 10, "Requires pages_messaging permission to manage the object",
                                   kind="OAuthException")
            with fake.lock:
                failure = fake.failures.pop(0) if fake.failures else None
            if failure:
                time.sleep(failure.delay)
                return self._error(failure.status, failure.code, failure.message, failure.subcode)
            try:
                body = json.loads(raw)
                psid, message = body["recipient"]["id"], body["message"]
            except (ValueError, KeyError, TypeError):
                return self._error(400, 100, "(#100) The parameter recipient is required")
            if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
                return self._error(400, 100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
            if body["messaging_type"] == "MESSAGE_TAG" and not body.get("tag"):
                return self._error(400, 100, "(#100) Tag is required for MESSAGE_TAG messaging type")
            if len(message.get("text") or "") > 2000:
                return self._error(400, 100, "(#100) Length of param message[text] must be less than or equal to 2000")
            mid = "m_" + uuid.uuid4().hex
            with fake.lock:
                fake.sent.append({"page": page.id, "body": body, "message_id": mid, "at": int(time.time() * 1000)})
            self._json(200, {"recipient_id": psid, "message_id": mid})

    return Handler
