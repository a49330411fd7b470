"""Login, refresh rotation and reuse revocation, logout, me, throttling, and token tampering."""
import time

import jwt
import pytest

from tests.helpers import PASSWORD, login, new_admin


@pytest.fixture
def admin(api):
    return new_admin()


def test_login_returns_tokens_and_user(api, admin):
    body = login(api, admin["email"])
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 900
    assert body["user"]["email"] == admin["email"] and body["user"]["role"] == "admin"
    assert "passwordHash" not in body["user"]
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == admin["id"] and claims["workspaceId"] == admin["workspaceId"]
    assert claims["tenantId"] == admin["tenantId"] and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 900


def test_login_is_case_insensitive_on_email(api, admin):
    assert login(api, admin["email"].upper())["user"]["id"] == admin["id"]


@pytest.mark.parametrize("email,password", [("nobody@example.com", PASSWORD), (None, "wrong-password")])
def test_bad_credentials_are_401_without_saying_which(api, admin, email, password):
    r = api.post("/api/v1/auth/login", json={"email": email or admin["email"], "password": password})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"


def test_repeated_failures_throttle_the_account(api, admin):
    for _ in range(5):
        assert api.post("/api/v1/auth/login", json={"email": admin["email"], "password": "nope"}).status_code == 401
    r = api.post("/api/v1/auth/login", json={"email": admin["email"], "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0


def test_me_returns_the_caller(api, admin):
    token = login(api, admin["email"])["token"]
    r = api.with_token(token).get("/api/v1/auth/me")
    assert r.status_code == 200
    assert r.json()["id"] == admin["id"] and r.json()["agent"]["maxConversations"] == 10


def test_refresh_rotates_and_reuse_revokes_the_family(api, admin):
    first = login(api, admin["email"])
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refreshToken"] != first["refreshToken"]
    assert api.with_token(second["token"]).get("/api/v1/auth/me").status_code == 200
    # The old token again once its grace is over (test_refresh_grace.py: what happens before): a
    # leak. It fails, and so does the new one of the same family.
    from tests.integration.test_refresh_grace import _age_use
    from utalk.repositories.refresh_tokens import REUSE_GRACE_SECONDS
    _age_use(first["refreshToken"], REUSE_GRACE_SECONDS + 1)
    reuse = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "refresh_reuse"
    after = api.post("/api/v1/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert after.status_code == 401 and after.json()["error"]["code"] == "refresh_revoked"
    # Another login (another family) is unaffected.
    other = login(api, admin["email"])
    assert api.post("/api/v1/auth/refresh", json={"refreshToken": other["refreshToken"]}).status_code == 200


def test_logout_revokes_the_refresh_token(api, admin):
    tokens = login(api, admin["email"])
    assert api.post("/api/v1/auth/logout", json={"refreshToken": tokens["refreshToken"]}).status_code == 204
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert r.status_code == 401


@pytest.mark.parametrize("token", ["garbage", "a" * 32 + "." + "b" * 30])
def test_unknown_refresh_tokens_are_401(api, token):
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": token if len(token) >= 10 else token * 2})
    assert r.status_code == 401


def _forge(claims: dict, key: str = "x" * 40, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _claims(admin, **over):
    now = int(time.time())
    base = {"sub": admin["id"], "role": "admin", "workspaceId": admin["workspaceId"],
            "tenantId": admin["tenantId"], "type": "access", "iss": "utalk", "aud": "utalk",
            "iat": now, "exp": now + 600}
    base.update(over)
    return base


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 forged on purpose
def test_rejected_tokens(api, admin):
    from utalk.config import settings

    secret = settings().jwt_secret
    valid = _forge(_claims(admin), secret)
    assert api.with_token(valid).get("/api/v1/auth/me").status_code == 200
    header, payload, sig = valid.split(".")
    none_alg = jwt.encode(_claims(admin), None, algorithm="none")
    bad = {
        "expired": _forge(_claims(admin, iat=int(time.time()) - 2000, exp=int(time.time()) - 1000), secret),
        "tampered": f"{header}.{_forge(_claims(admin, role='admin', sub='someone')).split('.')[1]}.{sig}",
        "wrong_key": _forge(_claims(admin)),
        "alg_none": none_alg,
        "wrong_alg": _forge(_claims(admin), secret, alg="HS512"),
        "wrong_audience": _forge(_claims(admin, aud="other"), secret),
        "refresh_type": _forge(_claims(admin, type="refresh"), secret),
        "no_workspace": _forge(_claims(admin, workspaceId=None), secret),
    }
    for name, token in bad.items():
        r = api.with_token(token).get("/api/v1/auth/me")
        assert r.status_code == 401, name
        assert r.json()["error"]["code"] == "invalid_token", name
    assert api.get("/api/v1/auth/me").json()["error"]["code"] == "missing_token"
    assert api.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
