"""WhatsApp through Twilio: verifying and parsing its webhooks (inbound messages into normalised
items, status callbacks into status updates), sending with the official client, proving that an
account holds a number, and downloading inbound media from Twilio's own hosts.

Every call uses the channel's own account SID and the auth token its admin submitted
(`channels/credentials.py`); there is no platform-wide Twilio account.
"""
from __future__ import annotations

import hmac
import json
import threading
from functools import lru_cache
from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from utalk import errors
from utalk.channels import credentials, fetch, routes
from utalk.channels.base import (Attachment, InboundItem, Outbound, PermanentSendError, SendResult, StatusUpdate,
                                 TransientSendError)
from utalk.config import settings
from utalk.models.channels import E164
from utalk.models.messages import MAX_TEXT
from utalk.services.conversations import conversation_id

SEND_TIMEOUT_SECONDS = 15
# Inbound media URLs name api.twilio.com, which answers with a redirect to its media CDN: the
# short-lived mms.twiliocdn.com URLs when HTTP auth on media is enforced (Twilio's default now),
# media.twiliocdn.com or the public S3 bucket of that name for older media. Only those are followed.
MEDIA = fetch.MediaPolicy(
    sources=(fetch.Origin("api.twilio.com"),),
    redirects=(fetch.Origin("mms.twiliocdn.com"), fetch.Origin("media.twiliocdn.com"),
               fetch.Origin("s3-external-1.amazonaws.com", "/media.twiliocdn.com/")),
    max_bytes=16 * 1024 * 1024)                # WhatsApp's own limit for media
# A WhatsApp sender (Senders API) in these states has been verified for the account.
PROVEN_SENDER_STATUSES = ("ONLINE", "ONLINE:UPDATING")
MAX_MEDIA = 10                                 # Twilio's NumMedia never exceeds it
STATUS_PATH = "/webhooks/twilio/status"
KNOWN_STATUSES = {"queued", "sending", "sent", "delivered", "read", "failed", "undelivered"}
_clients: dict[tuple[str, str], Client] = {}
_lock = threading.Lock()


def wa(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def address(value: str | None) -> str:
    return (value or "").removeprefix("whatsapp:").strip()


class _Params(dict):
    """A form as name -> all its values, read through `getall`: the validator asks for `getall`
    first and, on werkzeug's MultiDict (which has only `getlist`), pays a raised AttributeError for
    every parameter of every signature it computes."""

    getall = dict.__getitem__


def validate_signature(auth_token: str, url: str, params, signature: str | None) -> bool:
    """Twilio's `RequestValidator` check of `X-Twilio-Signature` for `url` and the form `params`.

    The signature over `url` exactly as configured is computed first; only when it does not match
    does the validator's full check run (the URL with and without the default port, as Twilio's
    signing varies), so a good webhook costs one HMAC instead of two."""
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    if hasattr(params, "lists"):
        params = _Params(params.lists())
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def signed(url: str, params, signature: str | None):
    """The check a webhook's channel credentials must pass (`routes.verified`): their auth token
    signs this request."""
    return lambda creds: validate_signature(creds["authToken"], url, params, signature)


# -- webhooks -------------------------------------------------------------------------------------
def inbound(form, url: str, signature: str | None) -> tuple[routes.Entry, InboundItem]:
    """An inbound webhook, verified and normalised: routed by the number it was sent to, its
    `X-Twilio-Signature` checked with the auth token of that number's channel (the one its
    workspace submitted, opened from the route cache)."""
    to = address(form.get("To"))
    # Both ends must be WhatsApp numbers before either names a document (a route, a conversation).
    if not E164.match(to) or not E164.match(address(form.get("From"))) or not form.get("MessageSid"):
        raise errors.BadRequest("MessageSid, From and To (whatsapp:+E.164) are required", code="invalid_webhook")
    entry = routes.by_address("whatsapp", to)
    if entry is None:
        raise errors.NotFound("No channel for this number", code="unknown_channel")
    entry = routes.verified(entry, signed(url, form, signature), may_reload=bool(signature))
    if entry is None:
        raise errors.Forbidden("Invalid Twilio signature", code="invalid_signature")
    account = entry.doc.get("accountSid")
    if account and form.get("AccountSid") and form.get("AccountSid") != account:
        raise errors.Forbidden("Webhook from another Twilio account", code="account_mismatch")
    customer, business = address(form.get("From")), entry.doc["address"]
    count = min(_count(form.get("NumMedia")), MAX_MEDIA)
    return entry, InboundItem(
        provider="twilio", provider_message_id=form["MessageSid"], customer=customer, business=business,
        conversation_id=conversation_id(customer, business), text=(form.get("Body") or "")[:MAX_TEXT] or None,
        attachments=tuple(Attachment(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
                          for i in range(count) if form.get(f"MediaUrl{i}")),
        location=_location(form),
        profile={k: form[f] for k, f in (("name", "ProfileName"), ("waId", "WaId")) if form.get(f)},
        reply_to=form.get("OriginalRepliedMessageSid") or None,
        metadata={k: form[f] for k, f in (("profileName", "ProfileName"), ("waId", "WaId"),
                                          ("referral", "ReferralSourceUrl")) if form.get(f)})


def status_update(args, form, url: str, signature: str | None) -> StatusUpdate | None:
    """A status callback, verified: the URL the sender gave Twilio (`status_callback_url`) names
    the workspace, conversation, message and channel; Twilio signs the full URL, so they are
    trusted once the signature checks out with that channel's token. None: a status with nothing
    to record (e.g. "accepted")."""
    ws, conv, msg, ch = (args.get(k) for k in ("ws", "conv", "msg", "ch"))
    if not all((ws, conv, msg, ch)) or not form.get("MessageSid"):
        # Without our parameters there is no channel to verify against: refuse, store nothing.
        raise errors.Forbidden("Unverifiable status callback", code="invalid_signature")
    # The channel and its opened credentials, cached per instance like inbound routes.
    entry = routes.by_channel(ws, ch)
    if entry is None or routes.verified(entry, signed(url, form, signature), may_reload=bool(signature)) is None:
        raise errors.Forbidden("Invalid Twilio signature", code="invalid_signature")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if status not in KNOWN_STATUSES:
        return None
    return StatusUpdate(ws, conv, msg, status, provider_id=form.get("MessageSid"),
                        error_code=form.get("ErrorCode") or None, error_message=form.get("ErrorMessage") or None)


def status_callback_url(out: Outbound, channel_id: str) -> str:
    query = urlencode({"ws": out.workspace_id, "conv": out.conversation_id, "msg": out.message_id, "ch": channel_id})
    return f"{settings().public_base_url}{STATUS_PATH}?{query}"


def _location(form) -> dict | None:
    lat, lng = form.get("Latitude"), form.get("Longitude")
    if not (lat and lng):
        return None
    try:
        return {"latitude": float(lat), "longitude": float(lng),
                "label": form.get("Label") or form.get("Address") or None}
    except ValueError:
        raise errors.BadRequest("Latitude/Longitude must be numbers", code="invalid_webhook") from None


def _count(value) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        raise errors.BadRequest("NumMedia must be a number", code="invalid_webhook") from None


# -- the adapter ----------------------------------------------------------------------------------
def _client(account_sid: str, token: str) -> Client:
    key = (account_sid, token)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = Client(account_sid, token, http_client=TwilioHttpClient(timeout=SEND_TIMEOUT_SECONDS))
                base = credentials.twilio_api_base_url()
                if base:  # one local fake stands in for api.twilio.com and messaging.twilio.com
                    client.api.base_url = client.messaging.base_url = base.rstrip("/")
                if len(_clients) >= 1000:  # tokens rotate and proofs try wrong ones: stay bounded
                    _clients.clear()
                _clients[key] = client
    return client


@lru_cache(maxsize=1)
def media_policy() -> fetch.MediaPolicy:
    """Twilio's media hosts; locally also exactly the fake Twilio's origin (never in production)."""
    base = credentials.twilio_api_base_url()
    return MEDIA.with_source(fetch.Origin.of(base)) if base else MEDIA


class TwilioWhatsApp:
    def __init__(self, channel: dict, creds: credentials.Credentials):
        self.channel = channel
        self.channel_id = channel.get("id") or channel.get("channelId")   # a channel, or its route
        self.account_sid = channel.get("accountSid") or ""
        self.token = creds["authToken"]

    def prove_address(self, address: str) -> None:
        """That this account holds `address` as a verified WhatsApp sender (Twilio's Senders API);
        422 `invalid_credentials` when Twilio refuses the account SID and token, 422
        `number_not_owned` when the number is not one of its senders, 503 when Twilio is down."""
        try:
            senders = _client(self.account_sid, self.token).messaging.v2.channels_senders.list(
                channel="whatsapp", page_size=100, limit=5000)
        except TwilioException as exc:
            # List pages fail as TwilioException("Unable to fetch page", response), the rest as
            # TwilioRestException: either way the HTTP status says whose fault it is.
            status = getattr(exc, "status", None) or getattr(exc.args[1] if len(exc.args) > 1 else None,
                                                             "status_code", None)
            if status in (401, 403, 404):
                raise errors.ValidationFailed("Twilio refused this account SID and auth token",
                                              code="invalid_credentials") from None
            raise errors.Unavailable("Twilio could not confirm the number; try again", code="provider_unavailable",
                                     details={"twilioStatus": status}) from None
        except (requests.Timeout, requests.ConnectionError):
            raise errors.Unavailable("Twilio could not be reached; try again", code="provider_unavailable") from None
        if not any(s.sender_id == wa(address) and s.status in PROVEN_SENDER_STATUSES for s in senders):
            raise errors.ValidationFailed(f"{address} is not a verified WhatsApp sender of Twilio account "
                                          f"{self.account_sid}", code="number_not_owned")

    def send(self, out: Outbound) -> SendResult:
        kwargs: dict = {"to": wa(out.to), "from_": wa(out.from_)}
        if out.content_sid:
            kwargs["content_sid"] = out.content_sid
            if out.content_variables:
                kwargs["content_variables"] = json.dumps(out.content_variables)
        elif out.location:
            loc = out.location
            kwargs["body"] = out.text or loc.get("label") or "Location"
            kwargs["persistent_action"] = [f"geo:{loc['latitude']},{loc['longitude']}|{loc.get('label') or ''}"]
        else:
            if out.text:
                kwargs["body"] = out.text
            if out.media_urls:
                kwargs["media_url"] = list(out.media_urls)
        kwargs["status_callback"] = status_callback_url(out, self.channel_id)
        try:
            msg = _client(self.account_sid, self.token).messages.create(**kwargs)
        except TwilioRestException as exc:
            code = str(exc.code or exc.status)
            if exc.status >= 500 or exc.status == 429:
                raise TransientSendError(exc.msg or f"HTTP {exc.status}", code) from None
            raise PermanentSendError(exc.msg or f"HTTP {exc.status}", code) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientSendError(f"{type(exc).__name__}: provider unreachable", "network") from None
        return SendResult(provider_id=msg.sid, status=msg.status or "queued")

    def customer_profile(self, customer: str) -> dict | None:
        """Nothing beyond what each webhook says (ProfileName, WaId)."""
        return None

    def download(self, url: str) -> tuple[bytes, str]:
        """Fetch inbound media from Twilio's hosts only (the account's basic auth goes to the API
        host, never to the CDN it redirects to); returns (bytes, type)."""
        return fetch.fetch(url, media_policy(), (self.account_sid, self.token))
