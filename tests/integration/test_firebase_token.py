"""POST /api/v1/auth/firebase-token through the gateway: a custom token Firebase Auth will accept.

The token is verified the way Firebase Auth does: RS256 signature by the service account's key,
audience the Identity Toolkit, issuer and subject the service account, at most one hour of life,
and our claims under `claims`. Then the claims are shown to open exactly the reads the rules
promise, through the Firestore emulator (the ID token Firebase mints from a custom token carries
the custom token's `claims` as top-level claims and its `uid` as `sub`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.helpers import PASSWORD, login, new_admin
from tests.production_env import production_env
from tests.rules.rules_client import Browser, unsigned_id_token

PATH = "/api/v1/auth/firebase-token"
AUDIENCE = "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"


def service_account() -> dict:
    """The stack's throwaway service account (the same file the gateway signs with)."""
    return json.loads(open(os.environ["FIREBASE_SERVICE_ACCOUNT"]).read())


def verify(token: str) -> dict:
    sa = service_account()
    public_key = load_pem_private_key(sa["private_key"].encode(), password=None).public_key()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    return jwt.decode(token, public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=sa["client_email"],
                      options={"require": ["iat", "exp", "iss", "sub", "aud"]})


def mint(api, access_token: str) -> dict:
    r = api.with_token(access_token).post(PATH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "expiresIn"} and body["expiresIn"] == 3600
    return body


@pytest.fixture
def admin(api):
    return new_admin()


def test_admin_gets_a_verifiable_custom_token_with_workspace_claims(api, admin):
    before = int(time.time())
    claims = verify(mint(api, login(api, admin["email"])["token"])["token"])
    sa = service_account()
    assert claims["iss"] == claims["sub"] == sa["client_email"]
    assert claims["uid"] == admin["id"]
    assert claims["claims"] == {"workspaceId": admin["workspaceId"], "tenantId": admin["tenantId"],
                                "role": "admin"}
    # Firebase rejects custom tokens living more than an hour.
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert before - 5 <= claims["iat"] <= int(time.time()) + 5


def test_agent_gets_role_agent(api, admin):
    admin_api = api.with_token(login(api, admin["email"])["token"])
    r = admin_api.post("/api/v1/users", json={"email": "agent-ft@example.com", "password": PASSWORD,
                                              "name": "Ana", "role": "agent"})
    assert r.status_code == 201, r.text
    agent = r.json()
    claims = verify(mint(api, login(api, "agent-ft@example.com")["token"])["token"])
    assert claims["uid"] == agent["id"]
    assert claims["claims"]["role"] == "agent" and claims["claims"]["workspaceId"] == admin["workspaceId"]


@pytest.mark.parametrize("role", ["bot", "service"])
def test_bot_and_service_principals_get_a_token_the_rules_give_nothing(api, role):
    # Bots and services do not log in with a password; their access tokens are issued directly.
    from utalk.auth.tokens import issue_access_token

    access, _ = issue_access_token(f"{role}_1", role, "ws_x", "tenant_x")
    claims = verify(mint(api, access)["token"])
    assert claims["uid"] == f"{role}_1" and claims["claims"]["role"] == role


def test_token_signed_by_another_key_or_altered_does_not_verify(api, admin):
    token = mint(api, login(api, admin["email"])["token"])["token"]
    header, payload, signature = token.split(".")
    forged_claims = jwt.decode(token, options={"verify_signature": False})
    forged_claims["claims"]["role"] = "admin"
    forged_claims["claims"]["workspaceId"] = "ws_someone_else"
    forged_payload = jwt.utils.base64url_encode(json.dumps(forged_claims).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not-a-jwt", "Basic dXNlcjpwdw=="])
def test_unauthenticated_is_401(api, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    r = api.post(PATH, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] in {"missing_token", "invalid_token"}
    assert "token" not in r.json()


def test_refresh_token_is_not_an_access_token(api, admin):
    body = login(api, admin["email"])
    assert api.with_token(body["refreshToken"]).post(PATH).status_code == 401


def test_get_is_405(api, admin):
    r = api.with_token(login(api, admin["email"])["token"]).get(PATH)
    assert r.status_code == 405


def test_claims_open_own_workspace_conversations_and_nothing_else(api, admin, stack):
    """The custom token's claims, as Firebase puts them in the ID token, against the real rules."""
    from utalk import clients

    db = clients.firestore()
    own = f"workspaces/{admin['workspaceId']}/conversations/conv_ft"
    other = "workspaces/ws_other_ft/conversations/conv_ft"
    for path, ws in ((own, admin["workspaceId"]), (other, "ws_other_ft")):
        db.document(path).set({"workspaceId": ws, "assignedAgent": None})
    custom = verify(mint(api, login(api, admin["email"])["token"])["token"])
    id_token = unsigned_id_token(stack.project, custom["uid"], **custom["claims"])
    browser = Browser(f"127.0.0.1:{stack.ports.firestore}", stack.project, id_token)
    assert browser.get(own).status_code == 200
    assert browser.get(other).status_code == 403
    assert browser.get(f"workspaces/{admin['workspaceId']}/users/{admin['id']}").status_code == 403


def _run_in_production(code: str, **env) -> "subprocess.CompletedProcess":
    """Run `code` in a fresh interpreter configured as production (settings are cached per process)."""

    from devstack.stack import ROOT

    clean = {k: v for k, v in os.environ.items() if k not in ("FIREBASE_SERVICE_ACCOUNT", "UTALK_OIDC_CERTS_URL")}
    clean.update(production_env(), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions", env=clean,
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_to_serve_without_the_service_account():
    """The module checks its key as it loads; the function then answers 503 to every request."""
    code = ("from functions_framework import create_app;"
            f"r = create_app('auth_firebase_token', 'main.py').test_client().post('{PATH}');"
            "print('ANSWER', r.status_code, r.get_json()['error']['code'])")
    r = _run_in_production(code)
    assert r.returncode == 0, r.stderr
    assert "ANSWER 503 misconfigured" in r.stdout and "FIREBASE_SERVICE_ACCOUNT is required" in r.stdout


def test_production_signs_with_the_secret_given_inline():
    """The secret arrives as the JSON itself (Secret Manager env var), not as a file path."""
    sa = service_account()
    code = ("import main, os; from utalk.auth import firebase_tokens as f; from utalk.auth.tokens import Principal;"
            "assert 'GOOGLE_APPLICATION_CREDENTIALS' not in os.environ;"
            "print(f.mint(Principal('u_1', 'agent', 'ws_1', 'tenant_1', 0)))")
    r = _run_in_production(code, FIREBASE_SERVICE_ACCOUNT=json.dumps(sa))
    assert r.returncode == 0, r.stderr
    claims = verify(r.stdout.strip())
    assert claims["uid"] == "u_1" and claims["claims"] == {"workspaceId": "ws_1", "tenantId": "tenant_1",
                                                          "role": "agent"}


# -- the server's current decision, not the token's (issue 12.8) -----------------------------------
def _session(api, stack, access_token: str) -> Browser:
    """The browser's Firestore session from a freshly minted custom token (its claims as Firebase
    puts them in the ID token)."""
    custom = verify(mint(api, access_token)["token"])
    return Browser(f"127.0.0.1:{stack.ports.firestore}", stack.project,
                   unsigned_id_token(stack.project, custom["uid"], **custom["claims"]))


def _user(admin_api, role: str) -> tuple[dict, str]:
    email = f"{role}-{os.urandom(4).hex()}@example.com"
    r = admin_api.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "X", "role": role})
    assert r.status_code == 201, r.text
    return r.json(), email


def _conversation(ws: str) -> str:
    from utalk import clients
    path = f"workspaces/{ws}/conversations/conv_{os.urandom(4).hex()}"
    clients.firestore().document(path).set({"workspaceId": ws, "assignedAgent": None, "status": "open"})
    return path


def test_deactivation_ends_the_firestore_session_and_refuses_new_tokens(api, admin, stack):
    admin_api = api.with_token(login(api, admin["email"])["token"])
    agent, email = _user(admin_api, "agent")
    agent_access = login(api, email)["token"]
    session = _session(api, stack, agent_access)
    conv = _conversation(admin["workspaceId"])
    assert session.get(conv).status_code == 200
    assert admin_api.post(f"/api/v1/users/{agent['id']}/deactivate").status_code == 200
    # The same Firebase session (its custom token is good for an hour) reads nothing from now on.
    assert session.get(conv).status_code == 403
    # Its REST access token is still unexpired, but it buys no new Firebase token.
    r = api.with_token(agent_access).post(PATH)
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_inactive"
    assert "token" not in r.json()


def test_a_demoted_admin_loses_admin_reads_and_a_new_token_carries_the_new_role(api, admin, stack):
    admin_api = api.with_token(login(api, admin["email"])["token"])
    other, email = _user(admin_api, "admin")
    other_access = login(api, email)["token"]       # claims role admin for 15 minutes
    channel = f"workspaces/{admin['workspaceId']}/channels/ch_ft"
    from utalk import clients
    clients.firestore().document(channel).set({"type": "whatsapp"})
    conv = _conversation(admin["workspaceId"])
    old = _session(api, stack, other_access)
    assert old.get(channel).status_code == 200
    r = admin_api.patch(f"/api/v1/users/{other['id']}", json={"role": "agent"})
    assert r.status_code == 200 and r.json()["role"] == "agent", r.text
    # The admin session minted before the demotion reads nothing at all any more ...
    assert old.get(channel).status_code == 403 and old.get(conv).status_code == 403
    # ... and the still-valid admin access token mints an agent's token: agent reads only.
    claims = verify(mint(api, other_access)["token"])["claims"]
    assert claims["role"] == "agent"
    fresh = _session(api, stack, other_access)
    assert fresh.get(conv).status_code == 200 and fresh.get(channel).status_code == 403
    # Promoted back: admin reads again with a new token.
    assert admin_api.patch(f"/api/v1/users/{other['id']}", json={"role": "admin"}).status_code == 200
    assert _session(api, stack, other_access).get(channel).status_code == 200


def test_a_user_from_before_access_documents_gets_one_on_first_mint(api, admin, stack):
    from utalk import clients
    ref = clients.firestore().document(f"workspaces/{admin['workspaceId']}/access/{admin['id']}")
    ref.delete()
    access_token = login(api, admin["email"])["token"]
    session = _session(api, stack, access_token)
    assert ref.get().to_dict() == {"role": "admin", "status": "active"}
    assert session.get(_conversation(admin["workspaceId"])).status_code == 200
