"""The local stand-in for Google's token signing: a key, its certificates, and OIDC ID tokens.

In production, Pub/Sub push, Cloud Tasks and Cloud Scheduler call internal functions with an ID
token Google signs for the invoker service account, and the functions verify it against Google's
published certificates. The emulators cannot sign, so the local stack owns one RSA key (generated
once per stack state directory, like devstack/service_account.py), publishes its certificate at
a local certs URL (`UTALK_OIDC_CERTS_URL`, served by devstack/scheduler.py; accepted by
utalk.config only in local/test), and the three stand-ins for Google's infrastructure mint
tokens with it exactly where Google would: devstack/pusher.py (Pub/Sub push), the
tasks emulator (each task's `oidc_token`) and the scheduler driver.

Importable from both venvs (the tasks emulator's too): google-auth and cryptography only.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

FILENAME = "local-oidc-key.json"
ENV_VAR = "UTALK_LOCAL_OIDC_KEY"       # the key file, for the processes that mint
ISSUER = "https://accounts.google.com"
LIFETIME_SECONDS = 3600                # Google's ID tokens live one hour


def _generate() -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "utalk-local-oidc")])
    now = datetime.now(timezone.utc)
    # A self-signed X.509 certificate: the format of Google's oauth2/v1/certs endpoint.
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650)).sign(key, hashes.SHA256()))
    return {
        "kid": uuid.uuid4().hex,
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


def ensure(state_dir: Path) -> Path:
    """The stack's key file, generated the first time (concurrent starters share one key)."""
    from devstack.service_account import write_once

    return write_once(Path(state_dir) / FILENAME, _generate)


def load(path: str | Path | None = None) -> dict:
    return json.loads(Path(path or os.environ[ENV_VAR]).read_text())


def certs(key: dict) -> dict[str, str]:
    """What the certs URL serves: {key id: PEM certificate}, as Google's oauth2/v1/certs does."""
    return {key["kid"]: key["certificate"]}


def claims(audience: str, email: str, *, now: float | None = None, lifetime: int = LIFETIME_SECONDS) -> dict:
    """The claims of the ID token Google issues to a service account for `audience`."""
    now = int(time.time() if now is None else now)
    subject = str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))   # a stable numeric id
    return {"iss": ISSUER, "aud": audience, "azp": subject, "sub": subject, "email": email,
            "email_verified": True, "iat": now, "exp": now + lifetime}


def sign(payload: dict, key: dict) -> str:
    """An RS256 JWT of `payload` with the key's id in the header (Google's ID token format)."""
    from google.auth import jwt

    token = jwt.encode(_signer(key), payload)
    return token.decode() if isinstance(token, bytes) else token


# By key id and key: the auth tests forge tokens with another key under the same key id.
_signers: dict[tuple[str, str], object] = {}


def _signer(key: dict):
    """The key's signer, parsed once: loading a PEM RSA key checks it (milliseconds of CPU), which
    per token made minting a fifth of the local gateway's time under the bot-chain bench."""
    from google.auth import crypt

    cache_key = (key["kid"], key["private_key"])
    if cache_key not in _signers:
        _signers[cache_key] = crypt.RSASigner.from_string(key["private_key"], key_id=key["kid"])
    return _signers[cache_key]


REUSE_MARGIN_SECONDS = 600        # a cached token is replaced while it still has 10 minutes to live
_minted: dict[tuple[str, str, str], tuple[float, str]] = {}


def mint(audience: str, email: str, key: dict | None = None) -> str:
    """An ID token for `email` with `audience`, signed by the stack's key (UTALK_LOCAL_OIDC_KEY).
    Reused until near its expiry: a token is valid for its whole hour to whoever presents it, so
    verification sees the same thing, and the stand-ins stop spending CPU Google spends elsewhere."""
    key = key or _cached_key()
    now = time.time()
    cached = _minted.get((audience, email, key["kid"]))
    if cached is not None and now < cached[0] - REUSE_MARGIN_SECONDS:
        return cached[1]
    payload = claims(audience, email, now=now)
    token = sign(payload, key)
    _minted[(audience, email, key["kid"])] = (payload["exp"], token)
    return token


_key: dict | None = None


def _cached_key() -> dict:
    global _key
    if _key is None:
        _key = load()
    return _key
