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


def verify_access_token(token: str) -> Principal:
    claims = None
    for secret in verifying_secrets():
        try:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                                issuer=ISSUER, options={"require": _REQUIRED})
            break
        except jwt.InvalidSignatureError:
            continue    # signed before a rotation, perhaps: the next secret may verify it
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
    if claims is None:
        raise InvalidToken("InvalidSignatureError")
    role, ws, tenant = claims.get("role"), claims.get("workspaceId"), claims.get("tenantId")
    if claims.get("type") != "access" or role not in ROLES or not isinstance(ws, str) or not ws \
            or not isinstance(tenant, str) or not tenant:
        raise InvalidToken("claims")
    return Principal(str(claims["sub"]), role, ws, tenant, int(claims["exp"]))
