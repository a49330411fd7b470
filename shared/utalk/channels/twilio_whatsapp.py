"""WhatsApp through Twilio: sending with the official client, validating webhook signatures,
and downloading inbound media with the account credentials."""
from __future__ import annotations

import hmac
import json
import threading

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from utalk.channels import credentials
from utalk.channels.base import Outbound, PermanentSendError, SendResult, TransientSendError

SEND_TIMEOUT_SECONDS = 15
MAX_MEDIA_BYTES = 16 * 1024 * 1024            # WhatsApp's own limit for media
_clients: dict[tuple[str, str], Client] = {}
_lock = threading.Lock()


def wa(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


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


def _client(account_sid: str, token: str) -> Client:
    key = (account_sid, token)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = Client(account_sid, token, http_client=TwilioHttpClient(timeout=SEND_TIMEOUT_SECONDS))
                base = credentials.twilio_api_base_url()
                if base:
                    client.api.base_url = base.rstrip("/")
                _clients[key] = client
    return client


class TwilioWhatsApp:
    def __init__(self, channel: dict):
        self.channel = channel
        self.account_sid = channel.get("accountSid") or credentials.default_account_sid() or ""
        self.token = credentials.auth_token(channel.get("authTokenRef"))

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
        if out.status_callback:
            kwargs["status_callback"] = out.status_callback
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

    def download(self, url: str) -> tuple[bytes, str]:
        """Fetch inbound media (Twilio requires the account's basic auth); returns (bytes, type)."""
        auth = (self.account_sid, self.token) if self.account_sid else None
        with requests.get(url, auth=auth, timeout=20, stream=True) as resp:
            resp.raise_for_status()
            chunks, size = [], 0
            for chunk in resp.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_MEDIA_BYTES:
                    raise ValueError("media exceeds the size limit")
                chunks.append(chunk)
            return b"".join(chunks), resp.headers.get("Content-Type", "application/octet-stream")
