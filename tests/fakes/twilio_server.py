"""A local HTTP server speaking Twilio's wire format for what UTalk calls, for tests.

The product's official `twilio` client is pointed at it (TWILIO_API_BASE_URL): the Messages API
(`api.twilio.com`) and the WhatsApp Senders API (`messaging.twilio.com/v2/Channels/Senders`) on one
port. It checks HTTP basic auth per account like Twilio, records every created message, can be told
to fail the next sends (5xx, 429 or a 4xx with a Twilio error code), and serves media the way
Twilio's media URLs do: behind the account's basic auth, optionally redirecting (307) to a CDN path
that needs no auth, as `api.twilio.com` redirects to `mms.twiliocdn.com`.

A message with `MediaUrl`s makes it fetch each URL, as Twilio does before sending, and refuse the
message when a fetch fails or answers a Content-Type WhatsApp does not accept (Twilio reports that
later, as a failed status with error 11200 / 12300; the fake answers the create call with it).
"""
from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

from fakes import JsonHandler, LocalServer

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sandbox-auth-token-local-only-000000"   # the default account's token in the fake
ONLINE = "ONLINE"
# What Twilio accepts at a WhatsApp MediaUrl (its accepted MIME types for WhatsApp).
WHATSAPP_MEDIA_TYPES = {
    "image/jpeg", "image/png", "image/webp", "audio/ogg", "audio/amr", "audio/3gpp", "audio/aac", "audio/mpeg",
    "audio/mp4", "video/mp4", "video/3gpp", "application/pdf", "text/vcard", "text/x-vcard", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


@dataclass
class Media:
    data: bytes
    content_type: str
    redirect: str | None = None       # 307 to this absolute URL instead of serving
    declare_length: bool = True       # False: no Content-Length, the body ends when the connection closes


@dataclass
class FakeTwilio(LocalServer):
    port: int
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    accounts: dict[str, str] = field(default_factory=dict)          # sid -> auth token
    senders: dict[str, list[dict]] = field(default_factory=dict)    # sid -> WhatsApp senders
    sent: list[dict] = field(default_factory=list)
    failures: list[tuple[int, int, str]] = field(default_factory=list)   # (status, code, message)
    media: dict[str, Media] = field(default_factory=dict)
    media_hits: int = 0
    sender_lists: int = 0
    media_fetches: list[dict] = field(default_factory=list)   # each MediaUrl fetched: url, status, type, bytes

    def __post_init__(self):
        self.accounts = {self.account_sid: self.auth_token}
        self._serve(_handler(self))

    def reset(self) -> None:
        with self.lock:
            self.accounts = {self.account_sid: self.auth_token}
            self.senders.clear()
            self.sent.clear()
            self.failures.clear()
            self.media.clear()
            self.media_hits = 0
            self.sender_lists = 0
            self.media_fetches.clear()

    # -- accounts and senders -----------------------------------------------------------------
    def add_account(self, sid: str | None = None, token: str | None = None) -> tuple[str, str]:
        sid = sid or "AC" + uuid.uuid4().hex
        token = token or uuid.uuid4().hex
        with self.lock:
            self.accounts[sid] = token
        return sid, token

    def set_token(self, sid: str, token: str) -> None:
        """The account's auth token changes (promoting the secondary token in Twilio's console)."""
        with self.lock:
            self.accounts[sid] = token

    def add_sender(self, number: str, status: str = ONLINE, account_sid: str | None = None) -> dict:
        """A WhatsApp sender of the account, as the Senders API lists it."""
        sid = "XE" + uuid.uuid4().hex
        sender = {"sid": sid, "status": status, "sender_id": f"whatsapp:{number}",
                  "configuration": {"waba_id": "1234567890", "verification_method": "sms",
                                    "verification_code": None, "voice_application_sid": None},
                  "webhook": {"callback_url": None, "callback_method": "POST", "fallback_url": None,
                              "fallback_method": "POST", "status_callback_url": None,
                              "status_callback_method": "POST"},
                  "profile": {"name": "Ventas", "about": None, "address": None, "description": None,
                              "emails": None, "logo_url": None, "vertical": "Other", "websites": None},
                  "properties": {"quality_rating": "HIGH", "messaging_limit": "1K Customers/24hr"},
                  "offline_reasons": None, "compliance": None,
                  "url": f"https://messaging.twilio.com/v2/Channels/Senders/{sid}"}
        with self.lock:
            self.senders.setdefault(account_sid or self.account_sid, []).append(sender)
        return sender

    # -- messages and media -------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, code: int = 20500, message: str = "Internal error"):
        with self.lock:
            self.failures.extend([(status, code, message)] * times)

    def media_url(self, name: str, account_sid: str | None = None) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{account_sid or self.account_sid}/Messages/MM{name}/Media/{name}"

    def add_media(self, name: str, data: bytes, content_type: str, *, redirect: str | None = None,
                  via_cdn: bool = False, declare_length: bool = True) -> str:
        """Serve `data` at a Twilio media URL (returned); `via_cdn` answers it with a 307 to an
        unauthenticated CDN path of this server, `redirect` with a 307 to any URL."""
        if via_cdn:
            self.media[f"cdn-{name}"] = Media(data, content_type, declare_length=declare_length)
            redirect = f"{self.base_url}/cdn/cdn-{name}"
        self.media[name] = Media(data, content_type, redirect, declare_length)
        return self.media_url(name)

    def sent_to(self, to: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent if m["To"] == to]


def _handler(fake: FakeTwilio):
    class Handler(JsonHandler):
        def _account(self) -> str | None:
            """The account whose basic-auth credentials the request carries, if they are right."""
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            if scheme != "Basic":
                return None
            try:
                sid, _, token = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                return None
            with fake.lock:
                return sid if sid in fake.accounts and fake.accounts[sid] == token else None

        def _error(self, status: int, code: int, message: str) -> None:
            self._json(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                "status": status})

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/v2/Channels/Senders":
                return self._list_senders(parse_qs(url.query))
            parts = url.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "cdn":     # the CDN: short-lived URLs, no auth
                return self._serve_media(parts[1])
            if len(parts) != 7 or parts[:2] != ["2010-04-01", "Accounts"] or parts[5] != "Media":
                return self._error(404, 20404, "Not found")
            if self._account() != parts[2]:
                return self._error(401, 20003, "Authenticate")
            self._serve_media(parts[6])

        def _serve_media(self, name: str) -> None:
            item = fake.media.get(name)
            if item is None:
                return self._error(404, 20404, "Not found")
            with fake.lock:
                fake.media_hits += 1
            if item.redirect:
                self.send_response(307)
                self.send_header("Location", item.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", item.content_type)
            if item.declare_length:
                self.send_header("Content-Length", str(len(item.data)))
            self.end_headers()
            try:
                for start in range(0, len(item.data), 1 << 16):
                    self.wfile.write(item.data[start:start + (1 << 16)])
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (size cap)
                pass

        def _list_senders(self, query: dict) -> None:
            account = self._account()
            if account is None:
                return self._error(401, 20003, "Authenticate")
            channel = (query.get("Channel") or [""])[0]
            if channel not in ("whatsapp", "rcs"):
                return self._error(400, 20001, "Missing required parameter Channel in the query string")
            size = int((query.get("PageSize") or ["50"])[0])
            page = int((query.get("Page") or ["0"])[0])
            with fake.lock:
                fake.sender_lists += 1
                every = [s for s in fake.senders.get(account, []) if channel == "whatsapp"]
            base = f"{fake.base_url}/v2/Channels/Senders?Channel={channel}&PageSize={size}"
            more = len(every) > (page + 1) * size
            self._json(200, {"senders": every[page * size:(page + 1) * size], "meta": {
                "page": page, "page_size": size, "first_page_url": f"{base}&Page=0",
                "previous_page_url": f"{base}&Page={page - 1}" if page else None,
                "url": f"{base}&Page={page}", "next_page_url": f"{base}&Page={page + 1}" if more else None,
                "key": "senders"}})

        def do_POST(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 4 or parts[0] != "2010-04-01" or parts[3] != "Messages.json":
                return self._error(404, 20404, "Not found")
            if self._account() != parts[2]:
                return self._error(401, 20003, "Authenticate")
            account = parts[2]
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
                fake.sent.append({**form, "sid": sid, "AccountSid": account})
            self._json(201, {
                "sid": sid, "account_sid": account, "to": form["To"], "from": form.get("From"),
                "body": form.get("Body", ""), "status": "queued", "num_media": "0", "num_segments": "1",
                "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
                "error_message": None, "messaging_service_sid": None,
                "date_created": "Thu, 26 Nov 2026 12:00:00 +0000", "date_updated": "Thu, 26 Nov 2026 12:00:00 +0000",
                "date_sent": None, "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"}})

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
