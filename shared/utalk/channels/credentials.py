"""A channel's provider credentials: submitted once by its admin, sealed, opened only for it.

Each provider's channel holds named fields (`models/channels.CREDENTIAL_FIELDS`: Twilio's
authToken; Messenger's pageToken, appSecret, verifyToken). They are sealed (`sealing.py`)
into `workspaces/{ws}/channelSecrets/{channelId}`, which no client can read (Firestore rules deny
it), and opened only with the workspace and channel the caller serves. The channel document says
only which fields are set and when each was last rotated. No code reads a provider secret from
the environment.

The offline sandbox provider exists only in local/test. Its channels default to fixed sandbox
credentials (WhatsApp: the auth token; Facebook: page token, app secret, verify token), which the
sandbox signs its callbacks with and the tests sign their webhooks with, unless their admin
submits others; outside local/test a sandbox channel opens nothing.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping

from google.cloud import firestore

from utalk import errors, logs
from utalk.channels import sealing
from utalk.config import ConfigError, Settings, settings

log = logs.get("credentials")
SANDBOX_AUTH_TOKEN = "sandbox-auth-token-local-only-000000"
SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_APP_ID = "100000000000000"           # the sandbox Meta app: its echoes are our own
SANDBOX_MESSENGER = {"pageToken": "sandbox-page-token-local-only-0000000",
                     "appSecret": "sandbox-app-secret-local-only-000000",
                     "verifyToken": "sandbox-verify-token-local-only-0000"}
SANDBOX_DEFAULTS = {"authToken": SANDBOX_AUTH_TOKEN}
SANDBOX_BY_TYPE = {"whatsapp": SANDBOX_DEFAULTS, "facebook": SANDBOX_MESSENGER}


class Credentials(Mapping):
    """One channel's opened credentials (field -> value). Never printed: repr names the fields only."""
    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)})"


def default_provider(channel_type: str = "whatsapp") -> str:
    """The offline sandbox locally (for the types that have one); anywhere else the type's provider
    (Twilio, Messenger; a web channel is its own provider)."""
    from utalk.models.channels import PROVIDERS

    providers = PROVIDERS[channel_type]
    return "sandbox" if settings().is_local and "sandbox" in providers else providers[0]


def check_provider(provider: str, conf: Settings | None = None) -> None:
    if provider == "sandbox" and not (conf or settings()).is_local:
        raise errors.ValidationFailed("The sandbox provider exists only in local and test environments",
                                      code="provider_not_allowed")


def sealed(workspace_id: str, channel_id: str, values: Mapping[str, str]) -> dict:
    """The `channelSecrets` document holding `values` sealed for this workspace and channel."""
    return {**sealing.seal(workspace_id, channel_id, values), "workspaceId": workspace_id,
            "channelId": channel_id, "updatedAt": firestore.SERVER_TIMESTAMP}


def state(names, at=firestore.SERVER_TIMESTAMP) -> dict:
    """What the channel document says about credentials `names`: set, and rotated at `at`."""
    return {name: {"set": True, "rotatedAt": at} for name in names}


def opened(workspace_id: str, channel_id: str, provider: str | None, record: Mapping | None,
           conf: Settings | None = None) -> Credentials | None:
    """The channel's credentials from its sealed record, or None (missing, or they do not open:
    every signature check against them then fails, closed)."""
    if provider == "sandbox" and not (conf or settings()).is_local:
        return None
    if record is None:
        return None
    try:
        return Credentials(sealing.unseal(workspace_id, channel_id, record))
    except sealing.Unsealable as exc:
        log.error("credentials of channel %s/%s do not open: %s", workspace_id, channel_id, exc,
                  extra={"workspaceId": workspace_id, "channelId": channel_id})
        return None


def verify_key(verify_token: str) -> str:
    """The route key a Messenger verify token is found by (its SHA-256: the token itself is never
    a document id). `channelRoutes/{verify_key}` lists the active channels that hold the token."""
    return "facebook-verify:" + hashlib.sha256(verify_token.encode()).hexdigest()


def local_override(name: str, conf: Settings | None = None) -> str | None:
    """Environment variable `name` naming a local fake of a provider's API. Only local/test may
    set one: anywhere else it would send every tenant's token elsewhere."""
    value = os.environ.get(name) or None
    if value and not (conf or settings()).is_local:
        raise ConfigError(f"{name} is allowed only in local/test environments")
    return value


def graph_base_url(conf: Settings | None = None) -> str:
    """Meta's Graph API, or the local fake tests point it at (MESSENGER_GRAPH_BASE_URL)."""
    return (local_override("MESSENGER_GRAPH_BASE_URL", conf) or "https://graph.facebook.com").rstrip("/")


def twilio_api_base_url(conf: Settings | None = None) -> str | None:
    """Override of https://api.twilio.com (tests point the official client at a local fake).
    Only local/test may set it: anywhere else it would send every tenant's token elsewhere."""
    return local_override("TWILIO_API_BASE_URL", conf)
