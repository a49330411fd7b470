"""Local stand-ins for Google's token plumbing a deployed function uses to sign without a key:
the metadata server (the runtime service account's email and access token, as google-auth's
compute credentials ask for them) and the IAM Credentials API `signBlob` (signs as that account
with a key only this fake holds; tests verify signatures with `public_key_pem`).

Both speak the real wire formats: google-auth and our `IamSigner` call them unchanged, pointed here
with GCE_METADATA_HOST / GCE_METADATA_IP and UTALK_IAM_CREDENTIALS_URL.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from fakes import LocalServer

EMAIL = "utalk-api@utalk-test.iam.gserviceaccount.com"


class _Json(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status: int, body, content_type: str = "application/json", headers: dict | None = None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)


@dataclass
class FakeMetadata(LocalServer):
    """The GCE/Cloud Run metadata server, for the default service account only."""
    port: int = 0
    email: str = EMAIL
    token: str = field(default_factory=lambda: "ya29.fake-" + uuid.uuid4().hex)
    token_requests: int = 0

    def __post_init__(self):
        self._serve(_metadata_handler(self))
        self.port = self.server.server_address[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _metadata_handler(fake: FakeMetadata):
    class Handler(_Json):
        def do_GET(self):
            flavor = {"Metadata-Flavor": "Google"}
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, b"Missing Metadata-Flavor:Google header.", "text/plain", flavor)
            path = urlsplit(self.path).path
            account = "/computeMetadata/v1/instance/service-accounts/default/"
            if path in ("/", ""):
                return self._send(200, b"computeMetadata/", "text/plain", flavor)
            if path == account + "token":
                with fake.lock:
                    fake.token_requests += 1
                return self._send(200, {"access_token": fake.token, "expires_in": 3599, "token_type": "Bearer"},
                                  headers=flavor)
            if path == account:
                return self._send(200, {"email": fake.email, "aliases": ["default"],
                                        "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}, headers=flavor)
            if path == account + "email":
                return self._send(200, fake.email.encode(), "text/plain", flavor)
            if path == "/computeMetadata/v1/project/project-id":
                return self._send(200, b"utalk-test", "text/plain", flavor)
            return self._send(404, b"not found", "text/plain", flavor)

    return Handler


@dataclass
class FakeIamCredentials(LocalServer):
    """`POST /v1/projects/-/serviceAccounts/{email}:signBlob`: RSA-SHA256 with this fake's key,
    for the bearer token the fake metadata server hands out."""
    metadata: FakeMetadata
    port: int = 0
    calls: list[dict] = field(default_factory=list)
    refuse: bool = False            # answer as IAM does when the account lacks signBlob permission

    def __post_init__(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._serve(_iam_handler(self))
        self.port = self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _iam_handler(fake: FakeIamCredentials):
    class Handler(_Json):
        def do_POST(self):
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            path = unquote(urlsplit(self.path).path)
            prefix, suffix = "/v1/projects/-/serviceAccounts/", ":signBlob"
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with fake.lock:
                fake.calls.append({"path": path, "authorization": self.headers.get("Authorization"), "body": body})
            if not (path.startswith(prefix) and path.endswith(suffix)):
                return self._send(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "Not found"}})
            if self.headers.get("Authorization") != f"Bearer {fake.metadata.token}":
                return self._send(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                  "message": "Request had invalid authentication credentials."}})
            if fake.refuse or path[len(prefix):-len(suffix)] != fake.metadata.email:
                return self._send(403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                                  "message": "Permission 'iam.serviceAccounts.signBlob' denied"}})
            signature = fake.key.sign(base64.b64decode(body["payload"]), padding.PKCS1v15(), hashes.SHA256())
            self._send(200, {"keyId": "fake-key-1", "signedBlob": base64.b64encode(signature).decode()})

    return Handler
