"""Access tokens (HS256 JWT, 15 min) shared by the REST functions and the Socket.IO relay.

Only HS256 is accepted: `alg: none`, other algorithms, a bad signature, a wrong audience or
issuer, a missing claim or an expired token are all rejected the same way.

Rotation (docs/security.md): tokens are signed with UTALK_JWT_SECRET only; while a rotation is under
way UTALK_JWT_SECRET_PREVIOUS (comma-separated) still verifies the tokens signed before it, so
nobody is logged out. Drop it once the access TTL has passed.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

import jwt

from utalk.config import settings

ISSUER = "utalk"
AUDIENCE = "utalk"
ALGORITHM = "HS256"
ROLES = ("admin", "agent", "bot", "service")
_REQUIRED = ["exp", "iat", "sub", "iss", "aud"]


class InvalidToken(Exception):
    """The token cannot be trusted (the reason is for logs, never for the client)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    workspace_id: str
    tenant_id: str
    expires_at: int

    def at_least(self, role: str) -> bool:
        """Roles rank admin > agent > bot > service."""
        return ROLES.index(self.role) <= ROLES.index(role)


def issue_access_token(user_id: str, role: str, workspace_id: str, tenant_id: str,
                       now: float | None = None) -> tuple[str, int]:
    now = int(now if now is not None else time.time())
    exp = now + settings().access_ttl_seconds
    claims = {"sub": user_id, "role": role, "workspaceId": workspace_id, "tenantId": tenant_id,
              "type": "access", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": exp,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings().jwt_secret, algorithm=ALGORITHM), exp


def verifying_secrets() -> list[str]:
    """The current secret, then the previous ones (visitor tokens are verified with them too)."""
    previous = [s.strip() for s in os.environ.get("UTALK_JWT_SECRET_PREVIOUS", "").split(",")]
    return [settings().jwt_secret] + [s for s in previous if len(s) >= 32]


# Tokens this instance verified, with their claims: the same token is not verified again until it
# expires. An agent's or visitor's token comes back on every request; PyJWT's decode (HMAC, JSON,
# per-character base64 checks) measured 0.04-0.1 ms (a hit: 0.005) of a visitor send's ~2.2 ms of
# CPU, paid by every authenticated request. Keyed by the verifying secrets too, so a rotation's end
# stops old tokens at once; only a byte-identical token string hits. Dropped whole when full, so it
# must hold an instance's visitors of a token's lifetime: at 4,096 the bench's 5,000 visitors hit 52%
# of the time, at 16,384 all but their first (~1.8 KB an entry: ~30 MB when full, on visitor routes).
_verified: dict[tuple, dict] = {}
_VERIFIED_MAX = 16_384


def decode(token: str, audience: str) -> dict:
    """The claims of an HS256 `token` for `audience` (read-only: the dict is shared), verified
    with the current secret or, after a rotation, a previous one; InvalidToken otherwise."""
    secrets = tuple(verifying_secrets())
    key = (token, audience, secrets)
    claims = _verified.get(key)
    if claims is not None:
        if claims["exp"] > time.time():   # PyJWT's rule: expired once exp <= now
            return claims
        del _verified[key]
        raise InvalidToken("ExpiredSignatureError")
    for secret in secrets:
        try:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience,
                                issuer=ISSUER, options={"require": _REQUIRED})
            break
        except jwt.InvalidSignatureError:
            continue    # signed before a rotation, perhaps: the next secret may verify it
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
    if claims is None:
        raise InvalidToken("InvalidSignatureError")
    if not isinstance(claims.get("exp"), (int, float)):
        raise InvalidToken("claims")
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = claims
    return claims


def verify_access_token(token: str) -> Principal:
    claims = decode(token, AUDIENCE)
    role, ws, tenant = claims.get("role"), claims.get("workspaceId"), claims.get("tenantId")
    if claims.get("type") != "access" or role not in ROLES or not isinstance(ws, str) or not ws \
            or not isinstance(tenant, str) or not tenant:
        raise InvalidToken("claims")
    return Principal(str(claims["sub"]), role, ws, tenant, int(claims["exp"]))
