"""Firebase custom tokens: how a signed-in user's browser gets into Firestore under the rules.

The frontend exchanges our access token for a custom token, signs in to Firebase with it, and opens
Firestore listeners; `firestore.rules` authorizes those reads from the claims set here
(`workspaceId`, `tenantId`, `role`), checked on every read against the user's access document
(repositories/access.py). The claims come from that document too, not from the access token
(which may be 15 minutes old): an inactive user gets no token, a demoted one a token of the new role.

firebase-admin signs with the service account in FIREBASE_SERVICE_ACCOUNT (the JSON itself, as the
secret is mounted, or a path to it). It is given to firebase-admin as an explicit credential of a
named app, never through GOOGLE_APPLICATION_CREDENTIALS, because every other client in the process
talks to the emulators anonymously and must stay that way. The app is built once per instance, on
first use, so functions that never mint tokens do not pay for it.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

from utalk import errors
from utalk.auth.tokens import Principal
from utalk.config import ConfigError, settings

ENV_VAR = "FIREBASE_SERVICE_ACCOUNT"
APP_NAME = "utalk-custom-tokens"
# Firebase refuses custom tokens that live longer than one hour; firebase-admin always sets exactly this.
LIFETIME_SECONDS = 3600

_lock = threading.Lock()
_app = None


def configured() -> bool:
    return bool(os.environ.get(ENV_VAR, "").strip())


def require_configured() -> None:
    """Fail fast at startup outside local/test: without the key no frontend can reach Firestore."""
    if not configured() and not settings().is_local:
        raise ConfigError(f"{ENV_VAR} is required outside local/test environments")


def _service_account_info() -> dict:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        hint = " (the local stack generates one: devstack/service_account.py)" if settings().is_local else ""
        raise ConfigError(f"{ENV_VAR} is not set{hint}")
    text = raw if raw.startswith("{") else Path(raw).read_text()
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(f"{ENV_VAR} is not valid service-account JSON") from None
    if info.get("type") != "service_account" or not info.get("private_key") or not info.get("client_email"):
        raise ConfigError(f"{ENV_VAR} is not a service-account key (type, private_key, client_email)")
    return info


def _firebase_app():
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                import firebase_admin
                from firebase_admin import credentials

                info = _service_account_info()
                _app = firebase_admin.initialize_app(
                    credentials.Certificate(info),
                    options={"projectId": info.get("project_id") or settings().project_id},
                    name=APP_NAME)
    return _app


# The roles whose tokens open reads (firestore.rules): only they are checked against a user document.
# Bots and services read nothing, so theirs are minted as asked.
READING_ROLES = ("admin", "agent")


def current(principal: Principal) -> Principal:
    """`principal` with the role the server grants now; 403 `account_inactive` when it grants none."""
    if principal.role not in READING_ROLES:
        return principal
    from utalk.repositories import access
    from utalk.repositories.users import UserRepository

    granted = access.get(principal.workspace_id, principal.user_id)
    if granted is None:  # a user from before access documents: make theirs from the user document
        stored = UserRepository(principal.workspace_id).get(principal.user_id)
        granted = access.backfill(principal.workspace_id, stored) if stored else None
    if not granted or granted.get("status") != "active" or granted.get("role") not in READING_ROLES:
        raise errors.Forbidden("This account is not active", code="account_inactive")
    return replace(principal, role=granted["role"])


def claims_for(principal: Principal) -> dict[str, str]:
    """The developer claims the rules read (request.auth.token.<claim>)."""
    return {"workspaceId": principal.workspace_id, "tenantId": principal.tenant_id, "role": principal.role}


def mint(principal: Principal) -> str:
    """A custom token for `principal`, valid for LIFETIME_SECONDS, signed locally (no network call)."""
    from firebase_admin import auth

    # Our tenantId goes in the developer claims, not create_custom_token's tenant_id argument: that
    # one names an Identity Platform tenant, which UTalk does not use.
    token = auth.create_custom_token(principal.user_id, claims_for(principal), app=_firebase_app())
    return token.decode() if isinstance(token, bytes) else token


def reset() -> None:
    """Forget the app (tests that switch service accounts)."""
    global _app
    with _lock:
        if _app is not None:
            import firebase_admin
            firebase_admin.delete_app(_app)
        _app = None
