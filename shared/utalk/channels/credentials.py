"""Channel credentials by reference: a channel names the secret holding its auth token.

In functions, secrets are mounted as environment variables (manifest `secrets=`), so a reference
is an env var name. Local and test runs without the secret use a fixed sandbox token, which is
also what the sandbox signs its status callbacks with; production refuses to run without it.
"""
from __future__ import annotations

import os

from utalk.config import ConfigError, settings

SANDBOX_AUTH_TOKEN = "sandbox-auth-token-local-only-000000"
SANDBOX_ACCOUNT_SID = "AC" + "0" * 32


def auth_token(ref: str | None) -> str:
    value = os.environ.get(ref or "TWILIO_AUTH_TOKEN", "")
    if value:
        return value
    if settings().is_local:
        return SANDBOX_AUTH_TOKEN
    raise ConfigError(f"secret {ref} is not configured")


def default_provider() -> str:
    """Twilio when an account is configured, else the offline sandbox (the local default)."""
    return "twilio" if os.environ.get("TWILIO_ACCOUNT_SID") else "sandbox"


def default_account_sid() -> str | None:
    return os.environ.get("TWILIO_ACCOUNT_SID") or None


def twilio_api_base_url() -> str | None:
    """Override of https://api.twilio.com (tests point the official client at a local fake)."""
    return os.environ.get("TWILIO_API_BASE_URL") or None
