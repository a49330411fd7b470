"""A throwaway service-account JSON for the local and test stacks (never for production).

firebase-admin signs custom tokens with a service account's private key. Locally there is no real
Google account, so the stack generates one with a fresh RSA key into its state directory and points
FIREBASE_SERVICE_ACCOUNT at it. Tokens signed with it are accepted only by the emulators; tests
verify them with the public key in the same file. Production reads the real key from the
FIREBASE_SERVICE_ACCOUNT secret instead (see `utalk.auth.firebase_tokens`).
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

FILENAME = "firebase-service-account.json"


def _generate(project: str) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    email = f"firebase-adminsdk-local@{project}.iam.gserviceaccount.com"
    # The shape google-auth's service_account.Credentials.from_service_account_info() requires.
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": email,
        "client_id": str(uuid.uuid4().int)[:21],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "",
        "universe_domain": "googleapis.com",
    }


def ensure(state_dir: Path, project: str) -> Path:
    """Return the stack's service-account file, generating it the first time (idempotent)."""
    return write_once(Path(state_dir) / FILENAME, lambda: _generate(project))


def write_once(path: Path, generate) -> Path:
    """`path`, holding the JSON of `generate()` written the first time only (a key file)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temp file, then link it into place: several processes may start at once, and none
    # may read a half-written key or have its key replaced under it. Owner-only permissions: the key
    # is a secret even if throwaway.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(generate(), f, indent=2)
    try:
        os.link(tmp, path)  # atomic create-if-absent: if another process won the race, keep its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path
