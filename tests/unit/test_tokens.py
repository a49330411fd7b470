"""Access-token issue/verify: pure logic, no stack."""
import time

import jwt
import pytest

from utalk.auth import tokens
from utalk.config import settings


def test_round_trip_and_role_order():
    token, exp = tokens.issue_access_token("u1", "agent", "ws_1", "tenant_1")
    p = tokens.verify_access_token(token)
    assert (p.user_id, p.role, p.workspace_id, p.tenant_id, p.expires_at) == ("u1", "agent", "ws_1", "tenant_1", exp)
    assert p.at_least("agent") and p.at_least("bot") and not p.at_least("admin")


def test_expired_and_foreign_tokens_fail():
    old, _ = tokens.issue_access_token("u1", "admin", "ws_1", "t", now=time.time() - 3600)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(old)
    claims = jwt.decode(tokens.issue_access_token("u1", "admin", "ws_1", "t")[0], settings().jwt_secret,
                        algorithms=["HS256"], audience="utalk")
    for forged in (jwt.encode({**claims, "role": "root"}, settings().jwt_secret, algorithm="HS256"),
                   jwt.encode(claims, None, algorithm="none"),
                   jwt.encode(claims, "another-secret-of-sufficient-length!!", algorithm="HS256")):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify_access_token(forged)


def test_a_rotated_secret_still_verifies_while_it_is_previous(monkeypatch):
    old_secret = "the-secret-before-the-rotation-0123456789"
    claims = jwt.decode(tokens.issue_access_token("u1", "agent", "ws_1", "t")[0], settings().jwt_secret,
                        algorithms=["HS256"], audience="utalk")
    signed_before = jwt.encode(claims, old_secret, algorithm="HS256")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(signed_before)
    monkeypatch.setenv("UTALK_JWT_SECRET_PREVIOUS", f"too-short, {old_secret}")
    assert tokens.verify_access_token(signed_before).user_id == "u1"
    # a previous secret verifies only what it signed: a forged role is still refused, an expired token too
    for bad in (jwt.encode({**claims, "role": "root"}, old_secret, algorithm="HS256"),
                jwt.encode({**claims, "exp": int(time.time()) - 60}, old_secret, algorithm="HS256")):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify_access_token(bad)
