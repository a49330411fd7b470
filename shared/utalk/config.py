"""Typed settings read from the environment once per instance, failing closed.

Where an instance runs decides what it may default. On a managed runtime (`K_SERVICE`: Cloud Run
and Cloud Functions; `RAILWAY_ENVIRONMENT`: Railway) it is production unless `UTALK_ENV` says
`staging`, and `local`/`test` are refused there; elsewhere `UTALK_ENV` defaults to `local`.
Local runs get safe embedded defaults; production and staging refuse to serve without their
secrets instead of running with a guessable one. `settings()` raises `ConfigError` (and logs one
CRITICAL line naming every problem) on each call while the configuration is wrong: HTTP functions
answer 503 on every route (`startup_error()`), the relay exits non-zero.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

ENVS = ("local", "test", "staging", "production")
_LOCAL_ENVS = {"local", "test"}
# Set by the platform itself, never by us: their presence means "deployed".
MANAGED_MARKERS = ("K_SERVICE", "RAILWAY_ENVIRONMENT")
_DEV_JWT_SECRET = "utalk-local-dev-secret-change-me-0123456789abcdef"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(RuntimeError):
    """A required production setting is missing or invalid (`problems` lists each one)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


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
    # None when unset, which only local/test allow: they then use a fixed development key
    # (channels/sealing.py).
    credentials_key: bytes | None = None
    # The one identity Pub/Sub push, Cloud Tasks and Cloud Scheduler call internal functions as.
    invoker_service_account: str = ""
    # Where the keys that sign those calls' OIDC tokens are published (Google's, except locally).
    oidc_certs_url: str = GOOGLE_CERTS_URL
    # The Graph API version Messenger calls go to (MESSENGER_GRAPH_VERSION); Meta retires each
    # about two years after the next one ships.
    messenger_graph_version: str = "v25.0"
    extra: dict = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.env in _LOCAL_ENVS


def resolve_env(environ: Mapping[str, str]) -> str:
    """The environment this instance runs as (see the module docstring)."""
    declared = environ.get("UTALK_ENV", "").strip()
    if declared and declared not in ENVS:
        raise ConfigError(f"UTALK_ENV={declared!r} is not one of {', '.join(ENVS)}")
    managed = next((m for m in MANAGED_MARKERS if environ.get(m)), None)
    if managed is None:
        return declared or "local"
    if declared in _LOCAL_ENVS:
        raise ConfigError(f"UTALK_ENV={declared} is refused on a managed runtime ({managed} is set): "
                          "a deployed instance never runs with local defaults")
    return declared or "production"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ` (default os.environ); ConfigError listing every problem found."""
    env_vars = os.environ if environ is None else environ
    get = env_vars.get
    env = resolve_env(env_vars)
    local = env in _LOCAL_ENVS
    problems: list[str] = []

    def require(name: str) -> str:
        value = get(name, "").strip()
        if not value and not local:
            problems.append(f"{name} is required outside local/test")
        return value

    jwt_secret = require("UTALK_JWT_SECRET") or (_DEV_JWT_SECRET if local else "")
    if jwt_secret and len(jwt_secret) < 32:
        problems.append("UTALK_JWT_SECRET must be at least 32 characters")
    elif jwt_secret == _DEV_JWT_SECRET and not local:
        problems.append("UTALK_JWT_SECRET is the public development secret")

    credentials_key = None
    try:
        credentials_key = decode_key("UTALK_CREDENTIALS_KEY", require("UTALK_CREDENTIALS_KEY"))
    except ConfigError as exc:
        problems.append(str(exc))

    project = get("GOOGLE_CLOUD_PROJECT") or get("GCLOUD_PROJECT") or ""
    if not project and not local:
        problems.append("GOOGLE_CLOUD_PROJECT is required outside local/test")
    project = project or "utalk-local"
    invoker = require("UTALK_INVOKER_SERVICE_ACCOUNT") or (
        f"utalk-invoker@{project}.iam.gserviceaccount.com" if local else "")
    if invoker and not _EMAIL.match(invoker):
        problems.append("UTALK_INVOKER_SERVICE_ACCOUNT must be a service account email")

    certs_url = get("UTALK_OIDC_CERTS_URL", "").strip()
    if certs_url and not local:
        problems.append("UTALK_OIDC_CERTS_URL is only allowed in local/test (production trusts Google's keys)")

    gateway = get("UTALK_GATEWAY_URL", "http://127.0.0.1:3001")
    urls = {}
    for name, local_default in (("UTALK_PUBLIC_BASE_URL", gateway), ("UTALK_FUNCTIONS_BASE_URL", gateway + "/_fn")):
        value = require(name)
        if value and not local and not value.startswith("https://"):
            problems.append(f"{name} must be an https:// URL outside local/test")
        urls[name] = (value or local_default).rstrip("/")

    if problems:
        raise ConfigError(f"refusing to serve as {env}: " + "; ".join(problems), problems)
    return Settings(
        env=env,
        project_id=project,
        region=get("UTALK_REGION", "us-central1"),
        jwt_secret=jwt_secret,
        access_ttl_seconds=int(get("UTALK_ACCESS_TTL_SECONDS", 15 * 60)),
        refresh_ttl_seconds=int(get("UTALK_REFRESH_TTL_SECONDS", 7 * 24 * 3600)),
        cors_origins=_csv(get("UTALK_CORS_ORIGINS", "http://localhost:3000,http://localhost:5173" if local else "")),
        # Where providers send webhooks (Twilio signs this exact URL); behind a proxy it differs
        # from the address the function sees, so it is configured, never derived from the request.
        public_base_url=urls["UTALK_PUBLIC_BASE_URL"],
        # Where Pub/Sub pushes and Cloud Tasks land: each function's own URL under this base (also
        # the audience of the OIDC token those calls carry).
        functions_base_url=urls["UTALK_FUNCTIONS_BASE_URL"],
        bucket=get("UTALK_BUCKET", f"{project}-media"),
        credentials_key=credentials_key,
        invoker_service_account=invoker,
        oidc_certs_url=certs_url or GOOGLE_CERTS_URL,
        messenger_graph_version=_graph_version(get("MESSENGER_GRAPH_VERSION", "v25.0")),
    )


def _graph_version(value: str) -> str:
    if not re.fullmatch(r"v\d{1,3}\.\d", value.strip()):
        raise ConfigError("MESSENGER_GRAPH_VERSION must look like v25.0")
    return value.strip()


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
    """This instance's settings (cached once valid; a bad configuration raises on every call)."""
    try:
        return load()
    except ConfigError as exc:
        from utalk import logs
        logs.get("config").critical("%s", exc, extra={"problems": exc.problems, "configError": True})
        raise


def startup_error() -> ConfigError | None:
    """Why this instance must refuse to serve, or None (entry points answer 503 while it is set)."""
    try:
        settings()
    except ConfigError as exc:
        return exc
    return None
