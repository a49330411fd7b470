"""Short-lived V4 signed Cloud Storage URLs (the bucket is never public; `storage.rules` deny all).

Who signs:
- local/test: the devstack's throwaway service-account key (`UTALK_SIGNING_KEY_FILE`, honoured only
  there; `devstack/service_account.py` makes it), RSA in process;
- deployed: the runtime service account has no key file. `google.auth.default()` gives its compute
  credentials, and the string to sign is signed by the IAM Credentials API `signBlob` as that
  account (it needs `iam.serviceAccounts.signBlob`, i.e. roles/iam.serviceAccountTokenCreator, on
  itself). Default credentials that can sign themselves (a key file) sign in process.

Either way google-cloud-storage builds the canonical request and the string to sign
(`generate_signed_url(version="v4", credentials=...)`); only `sign_bytes` differs. The library's
own keyless path (`service_account_email=` + `access_token=`) posts to a hard-coded
`https://iamcredentials.<universe>` host that no test can reach; `IamSigner` is the same signBlob
call with its base URL configurable (`UTALK_IAM_CREDENTIALS_URL`, local/test only), so the tests
run this exact code against a local fake of the API.

Locally the URLs point at the storage emulator (STORAGE_EMULATOR_HOST), which ignores signatures,
expiry and `x-goog-content-length-range`; tests verify the signatures themselves (docs/media.md).
"""
from __future__ import annotations

import base64
import functools
import os
import threading
import time
from datetime import timedelta

import requests
from google.auth import credentials as ga_credentials

from utalk import clients, errors, logs
from utalk.config import ConfigError, settings

log = logs.get("media.signing")
IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SIGN_ATTEMPTS = 3


class SigningFailed(Exception):
    """The IAM Credentials API refused or failed to sign (permissions, quota, outage)."""


class IamSigner(ga_credentials.Signing):
    """Signs as a keyless service account through IAM Credentials `signBlob`, authenticated with
    that account's own access token (`source`: compute credentials, refreshed when they expire)."""

    def __init__(self, source, base_url: str = IAM_CREDENTIALS_URL):
        self._source = source
        self._base = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._session = requests.Session()

    def _token(self) -> str:
        with self._lock:
            if not self._source.valid:
                from google.auth.transport.requests import Request
                self._source.refresh(Request())  # compute credentials learn their email here too
            return self._source.token

    @property
    def signer_email(self) -> str:
        email = getattr(self._source, "service_account_email", None)
        if not email or email == "default":
            self._token()
            email = self._source.service_account_email
        return email

    @property
    def signer(self):
        return None  # no local key: sign_bytes() is the only way to sign

    def sign_bytes(self, message: bytes) -> bytes:
        url = f"{self._base}/v1/projects/-/serviceAccounts/{self.signer_email}:signBlob"
        body = {"payload": base64.b64encode(message).decode()}
        for attempt in range(SIGN_ATTEMPTS):
            try:
                resp = self._session.post(url, json=body, timeout=10,
                                          headers={"Authorization": f"Bearer {self._token()}"})
            except requests.RequestException as exc:
                failure = f"{type(exc).__name__}"
            else:
                if resp.status_code == 200:
                    return base64.b64decode(resp.json()["signedBlob"])
                failure = f"HTTP {resp.status_code}: {resp.text[:200]}"
                if resp.status_code not in (429, 500, 502, 503, 504):
                    break
            time.sleep(0.2 * 2 ** attempt)
        raise SigningFailed(f"IAM signBlob failed: {failure}")


def _local_only(name: str) -> str | None:
    value = os.environ.get(name)
    if value and not settings().is_local:
        raise ConfigError(f"{name} is honoured only in local/test environments")
    return value


@functools.lru_cache(maxsize=1)
def signing_credentials() -> ga_credentials.Signing:
    """The credentials that sign this instance's URLs (built once, reused across invocations)."""
    key_file = _local_only("UTALK_SIGNING_KEY_FILE")
    if key_file:
        from google.oauth2 import service_account
        return service_account.Credentials.from_service_account_file(key_file)
    import google.auth
    creds, _ = google.auth.default(scopes=SCOPES)
    if isinstance(creds, ga_credentials.Signing) and getattr(creds, "signer", None) is not None:
        return creds
    return IamSigner(creds, _local_only("UTALK_IAM_CREDENTIALS_URL") or IAM_CREDENTIALS_URL)


def signed_url(bucket: str, path: str, *, method: str = "GET", seconds: int, content_type: str | None = None,
               headers: dict | None = None, response_type: str | None = None,
               disposition: str | None = None) -> str:
    """A V4 signed URL for one object. PUT: `content_type` and `headers` are signed, so the
    uploader must send exactly those. A signing outage is a 503, never a public URL."""
    blob = clients.storage().bucket(bucket).blob(path)
    headers = dict(headers or {})  # the library adds Host and Content-Type to the dict it is given
    try:
        return blob.generate_signed_url(version="v4", expiration=timedelta(seconds=seconds), method=method,
                                        content_type=content_type, headers=headers, response_type=response_type,
                                        response_disposition=disposition, credentials=signing_credentials())
    except SigningFailed as exc:
        log.error("signing failed: %s", exc)
        raise errors.Unavailable("Media URLs cannot be signed right now", code="signing_unavailable") from None
