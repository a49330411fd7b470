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


OLD_SECRET = "the-secret-before-the-rotation-0123456789"


def _signed_before_a_rotation() -> tuple[dict, str]:
    """An agent's claims, and a token of them signed with OLD_SECRET."""
    claims = jwt.decode(tokens.issue_access_token("u1", "agent", "ws_1", "t")[0], settings().jwt_secret,
                        algorithms=["HS256"], audience="utalk")
    return claims, jwt.encode(claims, OLD_SECRET, algorithm="HS256")


def test_a_rotated_secret_still_verifies_while_it_is_previous(monkeypatch):
    claims, signed_before = _signed_before_a_rotation()
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(signed_before)
    monkeypatch.setenv("UTALK_JWT_SECRET_PREVIOUS", f"too-short, {OLD_SECRET}")
    assert tokens.verify_access_token(signed_before).user_id == "u1"
    # a previous secret verifies only what it signed: a forged role is still refused, an expired token too
    for bad in (jwt.encode({**claims, "role": "root"}, OLD_SECRET, algorithm="HS256"),
                jwt.encode({**claims, "exp": int(time.time()) - 60}, OLD_SECRET, algorithm="HS256")):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify_access_token(bad)


def test_a_token_verified_once_is_refused_once_it_expires(monkeypatch):
    """Verified tokens are remembered per instance (tokens.decode); the memory keeps PyJWT's rules."""
    token, exp = tokens.issue_access_token("u1", "agent", "ws_1", "t")
    assert tokens.verify_access_token(token).user_id == "u1"
    assert tokens.verify_access_token(token).user_id == "u1"           # from memory
    monkeypatch.setattr(tokens.time, "time", lambda: exp)             # exp <= now: expired
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(token)


def test_a_remembered_token_signed_with_a_previous_secret_stops_when_the_rotation_ends(monkeypatch):
    _, signed_before = _signed_before_a_rotation()
    monkeypatch.setenv("UTALK_JWT_SECRET_PREVIOUS", OLD_SECRET)
    assert tokens.verify_access_token(signed_before).user_id == "u1"
    monkeypatch.delenv("UTALK_JWT_SECRET_PREVIOUS")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(signed_before)


def test_a_remembered_token_is_one_audience_only():
    """An agent's token verified (and remembered) is still no visitor token, nor the reverse."""
    from utalk.auth import visitor_tokens

    agent, _ = tokens.issue_access_token("u1", "agent", "ws_1", "t")
    visitor, _ = visitor_tokens.issue(visitor_tokens.Visitor("v1", "ws_1", "ch_1", "wk_" + "0" * 32, False, 0))
    assert tokens.verify_access_token(agent) and visitor_tokens.verify(visitor)
    with pytest.raises(tokens.InvalidToken):
        visitor_tokens.verify(agent)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(visitor)
