"""Login, refresh-token rotation, logout and "who am I"."""
from __future__ import annotations

from utalk import errors, limits, logs, ratelimit
from utalk.auth import passwords, tokens
from utalk.config import settings
from utalk.models.users import Tokens
from utalk.repositories import refresh_tokens
from utalk.repositories.users import UserRepository, find_login
from utalk.services.users import get_user, to_user

log = logs.get("auth")
_BAD_CREDENTIALS = "Invalid email or password"


def _reserve(email: str, client_ip: str) -> ratelimit.Taken:
    """Count a login attempt before its password is verified (utalk/limits.py, "login throttle").

    The address's count on this account goes first, alone: once one address is cut off, its further
    attempts never reach the account's count, so no single address can lock the owner out. Counting
    is atomic (blind increments read back from the commit), so concurrent guesses cannot slip past.
    Fails closed: without the counters no password is verified.
    """
    first = ratelimit.take((limits.LOGIN_IP_ACCOUNT, f"{client_ip}|{email}"), fail_open=False)
    try:
        return first + ratelimit.take((limits.LOGIN_ACCOUNT, email), (limits.LOGIN_IP, client_ip),
                                      fail_open=False)
    except errors.RateLimited:
        ratelimit.release(first)  # not verified: the address's attempt on this account is not spent
        raise


def login(email: str, password: str, client_ip: str) -> Tokens:
    cfg = settings()
    try:
        attempt = _reserve(email, client_ip)
    except errors.RateLimited:
        log.warning("login throttled", extra={"reason": "too_many_attempts"})
        raise
    stored = find_login(email)
    ok = passwords.verify_password(stored["passwordHash"] if stored else passwords.dummy_hash(), password)
    if not stored or not ok:
        raise errors.Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    ratelimit.release(attempt)  # the right password: only failures count against anyone
    if stored.get("status") != "active":
        raise errors.Forbidden("This account is not active", code="account_inactive")
    owner = {"userId": stored["id"], "workspaceId": stored["workspaceId"], "tenantId": stored["tenantId"]}
    refresh = refresh_tokens.start_family(owner, cfg.refresh_ttl_seconds)
    UserRepository(stored["workspaceId"]).record_login(stored["id"])
    return _tokens(refresh, stored["workspaceId"], stored["id"])


def _tokens(refresh: str, workspace_id: str, user_id: str) -> Tokens:
    user = get_user(workspace_id, user_id)
    access, exp = tokens.issue_access_token(user.id, user.role, user.workspaceId, user.tenantId)
    return Tokens(token=access, refreshToken=refresh, expiresIn=settings().access_ttl_seconds, user=user)


def refresh(token: str) -> Tokens:
    rotation = refresh_tokens.rotate(token, settings().refresh_ttl_seconds)
    if rotation.outcome == "reuse":
        log.warning("refresh token reuse: family revoked", extra={"userId": rotation.record["userId"]})
    if rotation.outcome != "ok":
        raise errors.Unauthorized("Refresh token is not valid", code=f"refresh_{rotation.outcome}")
    record = rotation.record
    stored = UserRepository(record["workspaceId"]).get(record["userId"])
    if stored is None or stored.get("status") != "active":
        refresh_tokens.revoke(rotation.token)
        raise errors.Unauthorized("This account is not active", code="account_inactive")
    return _tokens(rotation.token, record["workspaceId"], record["userId"])


def logout(token: str) -> None:
    if not refresh_tokens.revoke(token):
        raise errors.Unauthorized("Refresh token is not valid", code="refresh_invalid")


def me(principal: tokens.Principal):
    repo = UserRepository(principal.workspace_id)
    stored = repo.get(principal.user_id)
    if stored is None or stored.get("status") != "active":
        raise errors.Unauthorized("This account is not active", code="account_inactive")
    return to_user(stored, repo.agent(principal.user_id))
