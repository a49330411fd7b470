"""Facebook Messenger through Meta's Messenger Platform (Graph API): the webhook's subscription
handshake and signed event notifications (parsed into normalised items and watermarks), sending
with the Send API, proving that a page token belongs to a Page of the channel's app, the
customer's name from the user profile API, and inbound attachments from Meta's CDN only.

Every call uses the channel's own page token and app secret (`channels/credentials.py`), sent
only to the Graph API (`MESSENGER_GRAPH_BASE_URL` may point it at a local fake in local/test).
There is no official Python SDK for the Send API; `requests` it is, with timeouts, and the
sender's retries (`services/messaging.py`) for what `TransientSendError` marks.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

import requests

from utalk import errors, logs
from utalk.channels import credentials, fetch, routes
from utalk.channels.base import (Attachment, InboundItem, Outbound, PermanentSendError, SendResult,
                                 TransientSendError, Watermark)
from utalk.config import settings
from utalk.models.messages import MAX_TEXT
from utalk.repositories.channels import read_route

log = logs.get("messenger")
PROVIDER = "messenger"                 # the id namespace of Messenger's message ids (`mid`)
MAX_TEXT_OUT = 2000                    # the Send API refuses longer texts
MAX_ATTACHMENTS = 10
SEND_TIMEOUT = (5.0, float(os.environ.get("UTALK_MESSENGER_TIMEOUT_SECONDS", "15")))   # connect, read
PROFILE_TIMEOUT = (1.5, 2.0)           # on a new conversation's webhook (Meta wants 200 in 5 s): never retried
# Graph error codes worth retrying: 1 unknown (temporary), 2 service unavailable, 4 app rate limit,
# 17 user rate limit, 32 page rate limit, 613 calls within a time window (the Send API's own).
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 613})
PERMANENT_SUBCODES = frozenset({2018338})   # 613/2018338: a message tag used too often: not a retry's fix
# Inbound attachment URLs point at Meta's CDN: photos and videos on fbcdn.net subdomains
# (scontent*.xx.fbcdn.net, video*.xx.fbcdn.net), files and voice clips on cdn.fbsbx.com, newer
# media on lookaside.fbsbx.com. Only those exact hosts: other fbsbx.com hosts serve apps' own
# content (Instant Games). The URLs are signed in their query: no credentials go with them.
CDN = (fetch.Origin("*.fbcdn.net"), fetch.Origin("cdn.fbsbx.com"), fetch.Origin("lookaside.fbsbx.com"))
MEDIA = fetch.MediaPolicy(sources=CDN, redirects=CDN, max_bytes=25 * 1024 * 1024)   # Messenger's 25 MB
DOWNLOADABLE = {"image": "image", "audio": "audio", "video": "video", "file": "file", "reel": "video",
                "ig_reel": "video"}
OUTBOUND_KINDS = {"image": "image", "sticker": "image", "audio": "audio", "video": "video"}  # else "file"
_CHALLENGE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_session = requests.Session()   # one connection pool per instance, reused by every call


def customer_address(psid: str) -> str:
    return f"fb:{psid}"


def conversation_id(psid: str, page_id: str) -> str:
    """`conv_fb:<psid>_fb:<pageId>`: customer first, never sorted (a PSID belongs to its Page)."""
    return f"conv_fb:{psid}_fb:{page_id}"


def graph_url(path: str) -> str:
    return f"{credentials.graph_base_url()}/{settings().messenger_graph_version}/{path}"


@lru_cache(maxsize=1)
def media_policy() -> fetch.MediaPolicy:
    """Meta's CDN hosts; locally also exactly the fake Graph API's origin (never in production)."""
    base = credentials.graph_base_url()
    if base == "https://graph.facebook.com":
        return MEDIA
    return MEDIA.with_source(fetch.Origin.of(base))


# -- webhooks -------------------------------------------------------------------------------------
def subscription_challenge(args) -> str:
    """The handshake Meta sends when an admin subscribes their app's webhook (`hub.mode=subscribe`,
    `hub.verify_token`, `hub.challenge`): the challenge, when the token is one an active Messenger
    channel holds; else 403. Meta's GET names no Page, so the token is looked up by its hash
    (`credentials.verify_key`), which the channels holding it list (repositories/channels.py)."""
    token, challenge = args.get("hub.verify_token") or "", args.get("hub.challenge") or ""
    if args.get("hub.mode") != "subscribe" or not token or not _CHALLENGE.match(challenge):
        raise errors.Forbidden("Not a subscription handshake", code="invalid_verify_token")
    holders = read_route(credentials.verify_key(token))
    if not (holders and holders.get("channels")):
        raise errors.Forbidden("Unknown verify token", code="invalid_verify_token")
    return challenge


@dataclass
class Webhook:
    """A verified event notification: messages to store, watermarks to apply."""
    items: list[tuple[routes.Entry, InboundItem]] = field(default_factory=list)
    watermarks: list[Watermark] = field(default_factory=list)


def webhook(raw: bytes, signature: str | None) -> Webhook:
    """An event notification, verified and normalised.

    `X-Hub-Signature-256` is `sha256=` + hex HMAC-SHA256 of the raw body (as received, never
    re-serialised JSON) with the app secret. Each entry is routed by its Page id to the channel
    that owns the Page and is taken only if that channel's app secret signs the body; none signed
    is 403 (404 when no entry names a Page we route) and nothing is stored. One entry or event
    that cannot be parsed is skipped (logged) without losing the others."""
    if not signature or not signature.startswith("sha256="):
        raise errors.Forbidden("Missing X-Hub-Signature-256", code="invalid_signature")
    given = signature[len("sha256="):].strip().lower().encode()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Body is not JSON", code="invalid_webhook") from None
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise errors.BadRequest("No entry list", code="invalid_webhook")
    hook = Webhook()
    if body.get("object") != "page":
        return hook   # another product's notification (Instagram, ...): nothing of ours
    digests: dict[str, bytes] = {}

    def signs(creds) -> bool:
        secret = creds.get("appSecret") or ""
        digest = digests.get(secret)
        if digest is None:
            digest = digests[secret] = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
        return bool(secret) and hmac.compare_digest(digest, given)

    routed = verified = False
    for entry in body["entry"]:
        page = str(entry.get("id") or "") if isinstance(entry, dict) else ""
        route = routes.by_address("facebook", page) if page.isdigit() else None
        if route is None:
            log.info("messenger entry for a Page we do not route: %s", page[:40])
            continue
        routed = True
        route = routes.verified(route, signs)
        if route is None:
            log.warning("messenger entry for Page %s not signed by its channel's app secret", page)
            continue
        verified = True
        for event in entry.get("messaging") or ():
            try:
                _parse(route, page, event, hook)
            except (KeyError, TypeError, ValueError, AttributeError, errors.ApiError) as exc:
                log.warning("messenger event skipped (Page %s): %s: %s", page, type(exc).__name__, exc,
                            extra={"workspaceId": route.doc.get("workspaceId")})
    if not verified:
        if routed:
            raise errors.Forbidden("Invalid X-Hub-Signature-256", code="invalid_signature")
        raise errors.NotFound("No channel for this Page", code="unknown_channel")
    return hook


def _parse(route: routes.Entry, page: str, event: dict, hook: Webhook) -> None:
    sender, recipient = str(event["sender"]["id"]), str(event["recipient"]["id"])
    ws = route.doc["workspaceId"]
    if "message" in event:
        message = event["message"]
        echo = bool(message.get("is_echo"))
        if echo and str(message.get("app_id") or "") == (route.doc.get("appId") or ""):
            return   # the echo of our own send: it is stored already
        psid = recipient if echo else sender
        hook.items.append((route, _item(psid, page, message["mid"], message.get("text"), message, echo,
                                        event.get("timestamp"))))
    elif "postback" in event:
        postback = event["postback"]
        # A button press: its payload is what the bot and agents act on; the title is what the
        # customer saw. Older postbacks carry no mid: the sender and time identify it.
        mid = postback.get("mid") or f"postback:{sender}:{event['timestamp']}"
        item = _item(sender, page, mid, postback.get("title"), {}, False, None)
        item.metadata["postback"] = {k: postback[k] for k in ("payload", "title", "referral") if postback.get(k)}
        hook.items.append((route, item))
    elif "delivery" in event or "read" in event:
        status, report = ("delivered", event["delivery"]) if "delivery" in event else ("read", event["read"])
        hook.watermarks.append(Watermark(ws, conversation_id(sender, page), status, _at(int(report["watermark"]))))
    # reactions, referrals, opt-ins, handover...: not messages, nothing to store


def _item(psid: str, page: str, mid: str, text, message: dict, echo: bool, timestamp) -> InboundItem:
    if not psid.isdigit() or not isinstance(mid, str) or not mid:
        raise ValueError("sender id and mid are required")
    text = text[:MAX_TEXT] or None if isinstance(text, str) else None
    metadata: dict = {}
    attachments, location, others = [], None, []
    for att in (message.get("attachments") or ())[:MAX_ATTACHMENTS]:
        kind, payload = att.get("type"), att.get("payload") or {}
        if kind in DOWNLOADABLE and payload.get("url"):
            attachments.append(Attachment(str(payload["url"])))
            if payload.get("sticker_id"):
                metadata["stickerId"] = str(payload["sticker_id"])
        elif kind == "location" and payload.get("coordinates"):
            point = payload["coordinates"]
            location = {"latitude": float(point["lat"]), "longitude": float(point["long"]),
                        "label": att.get("title") or None}
        else:   # shared links (fallback), templates, products: kept, not downloaded
            others.append({k: v for k, v in (("type", kind), ("title", att.get("title")),
                                             ("url", att.get("url") or payload.get("url"))) if v})
    if others:
        metadata["attachments"] = others
    if (message.get("quick_reply") or {}).get("payload"):
        metadata["quickReply"] = {"payload": message["quick_reply"]["payload"]}
    if echo:
        metadata["echo"] = {"appId": str(message.get("app_id") or "")}
    return InboundItem(provider=PROVIDER, provider_message_id=mid, customer=customer_address(psid),
                       business=customer_address(page), conversation_id=conversation_id(psid, page),
                       text=text,
                       attachments=tuple(attachments), location=location,
                       reply_to=(message.get("reply_to") or {}).get("mid"), metadata=metadata,
                       outbound=echo, sent_at=_at(int(timestamp)) if echo and timestamp else None)


def _at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def signature_of(app_secret: str, raw: bytes) -> str:
    """What Meta puts in X-Hub-Signature-256 (the sandbox and the tests sign with it)."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


# -- the adapter ----------------------------------------------------------------------------------
class GraphError(Exception):
    def __init__(self, status: int, body: dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        self.status, self.code, self.subcode = status, error.get("code"), error.get("error_subcode")
        self.message = str(error.get("message") or f"HTTP {status}")[:300]
        super().__init__(self.message)

    @property
    def label(self) -> str:
        """The provider's code as messages record it: `code` or `code/subcode` (10/2018278)."""
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code or self.status)

    @property
    def transient(self) -> bool:
        return self.status >= 500 or (self.code in TRANSIENT_CODES and self.subcode not in PERMANENT_SUBCODES)


# Names from the user profile API, per (Page, PSID): the conversation document keeps the name, so
# this only spares the call when a conversation starts again (or on another instance's retry).
_profiles: dict[tuple[str, str], tuple[str | None, float]] = {}
_profiles_lock = threading.Lock()
PROFILE_TTL, PROFILE_MISS_TTL, PROFILES_MAX = 24 * 3600.0, 3600.0, 10_000


class Messenger:
    def __init__(self, channel: dict, creds: credentials.Credentials):
        self.channel = channel
        self.page_id = channel.get("pageId") or channel["address"]
        self.app_id = channel.get("appId") or ""
        self.token, self.app_secret = creds["pageToken"], creds["appSecret"]

    def _call(self, method: str, path: str, timeout, **kwargs) -> dict:
        """A Graph API call with the page token (header) and its appsecret_proof (Meta's way of
        tying a token to the app's server: a stolen token alone does not work where the app
        requires it)."""
        proof = hmac.new(self.app_secret.encode(), self.token.encode(), hashlib.sha256).hexdigest()
        resp = _session.request(method, graph_url(path), params={**kwargs.pop("params", {}), "appsecret_proof": proof},
                                headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout, **kwargs)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 400 or not isinstance(body, dict) or "error" in body:
            raise GraphError(resp.status_code, body if isinstance(body, dict) else {})
        return body

    def prove_address(self, page_id: str) -> None:
        """That the page token is a token of Page `page_id` (`GET /me` answers the Page itself)
        issued to this channel's app (`GET /app`), and the app secret is that app's (Graph checks
        the appsecret_proof). 422 `invalid_credentials` when Meta refuses the token or the proof,
        `page_not_owned` / `app_mismatch` when they name another Page or app, 503 when Meta is down."""
        try:
            page = self._call("GET", "me", SEND_TIMEOUT, params={"fields": "id,name"})
            app = self._call("GET", "app", SEND_TIMEOUT, params={"fields": "id"})
        except GraphError as exc:
            if exc.status >= 500 or exc.transient:
                raise errors.Unavailable("Meta could not confirm the Page; try again", code="provider_unavailable",
                                         details={"graphCode": exc.label}) from None
            raise errors.ValidationFailed("Meta refused this page token or app secret", code="invalid_credentials",
                                          details={"graphCode": exc.label}) from None
        except (requests.Timeout, requests.ConnectionError):
            raise errors.Unavailable("Meta could not be reached; try again", code="provider_unavailable") from None
        if str(page.get("id")) != page_id:
            raise errors.ValidationFailed(f"This page token belongs to another Page, not {page_id}",
                                          code="page_not_owned")
        if str(app.get("id")) != self.app_id:
            raise errors.ValidationFailed(f"This page token was issued to another app, not {self.app_id}",
                                          code="app_mismatch")

    def send(self, out: Outbound) -> SendResult:
        """One Send API call (`POST /{version}/{page-id}/messages`). `out.options` are what the
        channel's rules decided when the message was queued: `messagingType` RESPONSE inside the
        24 h window, MESSAGE_TAG with `tag` HUMAN_AGENT for a person answering within 7 days."""
        if out.text and len(out.text) > MAX_TEXT_OUT:
            raise PermanentSendError(f"Messenger texts are at most {MAX_TEXT_OUT} characters", "text_too_long")
        if out.media_urls:
            kind = OUTBOUND_KINDS.get((out.media_kinds or ("file",))[0], "file")
            message = {"attachment": {"type": kind, "payload": {"url": out.media_urls[0], "is_reusable": False}}}
        elif out.text:
            message = {"text": out.text}
        else:
            raise PermanentSendError("Messenger sends text or one attachment", "unsupported_content")
        body = {"recipient": {"id": out.to.removeprefix("fb:")},
                "messaging_type": out.options.get("messagingType", "RESPONSE"), "message": message}
        if out.options.get("tag"):
            body["tag"] = out.options["tag"]
        try:
            answer = self._call("POST", f"{self.page_id}/messages", SEND_TIMEOUT, json=body)
        except GraphError as exc:
            error = TransientSendError if exc.transient else PermanentSendError
            raise error(exc.message, exc.label) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientSendError(f"{type(exc).__name__}: Graph API unreachable", "network") from None
        if not answer.get("message_id"):
            raise TransientSendError("The Send API answered without a message_id", "no_message_id")
        return SendResult(provider_id=str(answer["message_id"]), status="sent")

    def customer_profile(self, customer: str) -> dict | None:
        """The customer's name from the user profile API (first and last name), when the page
        token may read it; None otherwise. Cached per instance; asked once per new conversation."""
        psid = customer.removeprefix("fb:")
        key, now = (self.page_id, psid), time.monotonic()
        hit = _profiles.get(key)
        if hit is not None and hit[1] > now:
            return {"name": hit[0]} if hit[0] else None
        try:
            found = self._call("GET", psid, PROFILE_TIMEOUT, params={"fields": "first_name,last_name"})
            name = " ".join(str(found[k]) for k in ("first_name", "last_name") if found.get(k))[:200] or None
        except (GraphError, requests.RequestException) as exc:
            log.info("no profile for a Messenger customer of Page %s: %s", self.page_id, exc)
            name = None
        with _profiles_lock:
            if len(_profiles) >= PROFILES_MAX:
                _profiles.clear()
            _profiles[key] = (name, now + (PROFILE_TTL if name else PROFILE_MISS_TTL))
        return {"name": name} if name else None

    def download(self, url: str) -> tuple[bytes, str]:
        """Inbound attachments from Meta's CDN only; no credentials go with them."""
        return fetch.fetch(url, media_policy())
