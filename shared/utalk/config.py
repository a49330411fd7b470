"""Typed settings read from the environment once per instance.

Local runs (UTALK_ENV=local|test) get safe embedded defaults; production refuses to start
without its secrets instead of running with a guessable one.
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from functools import lru_cache

_LOCAL_ENVS = {"local", "test"}
_DEV_JWT_SECRET = "utalk-local-dev-secret-change-me-0123456789abcdef"


class ConfigError(RuntimeError):
    """A required production setting is missing or invalid."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    env: str
    project_id: str
    region: str
    jwt_secret: str
    access_ttl_seconds: int
    refresh_ttl_seconds: int
    cors_origins: tuple[str, ...]
    public_base_url: str
    functions_base_url: str
    bucket: str
    max_body_bytes: int = 10 * 1024 * 1024
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    user_requests_per_minute: int = 100
    # The platform key sealing channel credentials (UTALK_CREDENTIALS_KEY, base64 of 32 bytes);
    # None when unset: local/test then use a fixed development key (channels/sealing.py).
    credentials_key: bytes | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.env in _LOCAL_ENVS


def load() -> Settings:
    env = os.environ.get("UTALK_ENV", "local")
    jwt_secret = os.environ.get("UTALK_JWT_SECRET", "")
    if not jwt_secret:
        if env not in _LOCAL_ENVS:
            raise ConfigError("UTALK_JWT_SECRET is required outside local/test environments")
        jwt_secret = _DEV_JWT_SECRET
    if len(jwt_secret) < 32:
        raise ConfigError("UTALK_JWT_SECRET must be at least 32 characters")
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT") or "utalk-local"
    gateway = os.environ.get("UTALK_GATEWAY_URL", "http://127.0.0.1:3001")
    return Settings(
        env=env,
        project_id=project,
        region=os.environ.get("UTALK_REGION", "us-central1"),
        jwt_secret=jwt_secret,
        access_ttl_seconds=int(os.environ.get("UTALK_ACCESS_TTL_SECONDS", 15 * 60)),
        refresh_ttl_seconds=int(os.environ.get("UTALK_REFRESH_TTL_SECONDS", 7 * 24 * 3600)),
        cors_origins=_csv(os.environ.get(
            "UTALK_CORS_ORIGINS", "http://localhost:3000,http://localhost:5173" if env in _LOCAL_ENVS else "")),
        # Where providers send webhooks (Twilio signs this exact URL); behind a proxy it differs
        # from the address the function sees, so it is configured, never derived from the request.
        public_base_url=os.environ.get("UTALK_PUBLIC_BASE_URL", gateway).rstrip("/"),
        # Where Pub/Sub pushes and Cloud Tasks land: each function's own URL under this base.
        functions_base_url=os.environ.get("UTALK_FUNCTIONS_BASE_URL", gateway + "/_fn").rstrip("/"),
        bucket=os.environ.get("UTALK_BUCKET", f"{project}-media"),
        credentials_key=decode_key("UTALK_CREDENTIALS_KEY", os.environ.get("UTALK_CREDENTIALS_KEY", "")),
    )


def decode_key(name: str, value: str) -> bytes | None:
    """A 32-byte key from its base64 (the value of setting `name`); None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name} must be base64") from None
    if len(key) != 32:
        raise ConfigError(f"{name} must be 32 bytes (base64 of `openssl rand 32`)")
    return key


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load()
