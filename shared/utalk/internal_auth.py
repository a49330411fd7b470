"""Who may call an internal function: the invoker service account, proven by a Google-signed OIDC
ID token (what Pub/Sub push, Cloud Tasks and Cloud Scheduler attach).

`verify()` checks, with google-auth's `id_token.verify_token`: the RS256 signature against the
certificates at `settings().oidc_certs_url` (Google's; locally the stack's own key, a URL that
utalk.config refuses outside local/test), expiry, audience = the function's own URL, and issuer
accounts.google.com; then that `email` is UTALK_INVOKER_SERVICE_ACCOUNT and `email_verified`. The
same code runs locally and deployed; only the certs URL differs. This is on top of Cloud Run's
IAM check (`--no-allow-unauthenticated`), not instead of it.

Certificates are fetched once and kept as long as their Cache-Control max-age allows (google-auth
itself fetches on every call); a token signed with a key id not in the cached set refreshes them
once (key rotation), at most every REFRESH_SECONDS so forged key ids cannot make us hammer Google.
"""
from __future__ import annotations

import json
import re
import threading
import time

from utalk import errors
from utalk.config import settings

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10
DEFAULT_MAX_AGE = 300
MAX_AGE_CAP = 24 * 3600
REFRESH_SECONDS = 30
MAX_TOKEN_BYTES = 4096
_MAX_AGE = re.compile(r"max-age=(\d+)")


class _Response:
    def __init__(self, status: int, data: bytes, headers: dict):
        self.status, self.data, self.headers = status, data, headers


class CertsCache:
    """A google.auth.transport.Request for the certs URL that answers from memory while fresh."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, float, _Response]] = {}   # url -> (fetched, expires, response)
        self._session = None

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        entry = self._entries.get(url)
        if entry is not None and time.monotonic() < entry[1]:
            return entry[2]
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and time.monotonic() < entry[1]:
                return entry[2]
            return self._fetch(url)

    def _fetch(self, url: str) -> _Response:
        import google.auth.transport.requests as transport
        import requests
        from google.auth import exceptions

        if self._session is None:
            self._session = requests.Session()
        resp = transport.Request(self._session)(url, method="GET", timeout=5)
        if resp.status != 200:
            raise exceptions.TransportError(f"certificates at {url} answered {resp.status}")
        try:
            json.loads(resp.data)
        except ValueError:
            raise exceptions.TransportError(f"certificates at {url} are not JSON") from None
        found = _MAX_AGE.search(resp.headers.get("Cache-Control", "") or "")
        max_age = min(int(found.group(1)), MAX_AGE_CAP) if found else DEFAULT_MAX_AGE
        now = time.monotonic()
        cached = _Response(resp.status, resp.data, dict(resp.headers))
        self._entries[url] = (now, now + max_age, cached)
        return cached

    def refresh(self, url: str) -> bool:
        """Forget `url`'s certificates if they are older than REFRESH_SECONDS; whether it did."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is None or time.monotonic() - entry[0] >= REFRESH_SECONDS:
                self._entries.pop(url, None)
                return True
            return False


_certs = CertsCache()


def audience(function_name: str) -> str:
    """The audience an internal function's callers must name: its own URL."""
    return f"{settings().functions_base_url}/{function_name}"


def verify(authorization: str | None, function_name: str) -> dict:
    """The verified claims of the bearer token in `authorization`, or 401 (no valid Google-signed
    token for this function), 403 (a valid token of another identity) or 503 (certs unreachable)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.Unauthorized("Missing bearer token", code="missing_token")
    if len(token) > MAX_TOKEN_BYTES:
        raise errors.Unauthorized("Invalid token", code="invalid_token")
    cfg = settings()
    claims = _decode(token, audience(function_name), cfg.oidc_certs_url)
    if claims.get("iss") not in ISSUERS:
        raise errors.Unauthorized("Token not issued by Google", code="invalid_token")
    if claims.get("email") != cfg.invoker_service_account or claims.get("email_verified") is not True:
        raise errors.Forbidden("Caller is not the invoker service account", code="wrong_caller")
    return claims


def _decode(token: str, aud: str, certs_url: str) -> dict:
    from google.auth import exceptions
    from google.oauth2 import id_token

    for attempt in (1, 2):
        try:
            return dict(id_token.verify_token(token, _certs, audience=aud, certs_url=certs_url,
                                              clock_skew_in_seconds=CLOCK_SKEW_SECONDS))
        except exceptions.TransportError:
            raise errors.Unavailable("Cannot fetch the token certificates", code="certs_unavailable") from None
        except Exception as exc:   # google-auth raises ValueError and its own errors for every bad token
            if attempt == 1 and "Certificate for key id" in str(exc) and _certs.refresh(certs_url):
                continue
            raise errors.Unauthorized("Invalid token", code="invalid_token") from None
    raise AssertionError("unreachable")
