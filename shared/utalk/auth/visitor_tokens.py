"""Web chat visitors' tokens (HS256 JWT): an audience and types of their own.

A visitor token (`type: visitor`, 15 min) authorises one visitor of one web channel: the visitor API
and the relay's visitor socket. It has audience `utalk-visitor`: agent routes verify audience
`utalk` and type `access` (auth/tokens.py), so a visitor token is refused there, and this verifier
refuses agents' tokens. The refresh token (30 days) that opens a new session for the same visitor
is no JWT: it is a rotating, revocable token of repositories/refresh_tokens.py (kind `visitor`).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from utalk.auth.tokens import ALGORITHM, ISSUER, InvalidToken, decode
from utalk.config import settings

AUDIENCE = "utalk-visitor"
ACCESS = "visitor"
# As agents' (auth/tokens.py): a blocked or signed-out visitor's token is stateless and lives this long.
ACCESS_TTL_SECONDS = 15 * 60
REFRESH_TTL_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    workspace_id: str
    channel_id: str
    channel_key: str
    identified: bool          # the host site vouched for its identifier (identifierHash)
    expires_at: int

    @property
    def conversation_id(self) -> str:
        from utalk.channels.web import conversation_id

        return conversation_id(self.visitor_id, self.channel_key)

    @property
    def address(self) -> str:
        return f"web:{self.visitor_id}"


def issue(visitor: Visitor, now: float | None = None) -> tuple[str, int]:
    now = int(now if now is not None else time.time())
    exp = now + ACCESS_TTL_SECONDS
    claims = {"sub": visitor.visitor_id, "workspaceId": visitor.workspace_id, "channelId": visitor.channel_id,
              "channelKey": visitor.channel_key, "identified": visitor.identified, "type": ACCESS,
              "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": exp, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings().jwt_secret, algorithm=ALGORITHM), exp


def verify(token: str) -> Visitor:
    """Verified with the current secret or, after a rotation, a previous one (as agents' tokens)."""
    claims = decode(token, AUDIENCE)
    fields = [claims.get(k) for k in ("sub", "workspaceId", "channelId", "channelKey")]
    if claims.get("type") != ACCESS or not all(isinstance(v, str) and v for v in fields):
        raise InvalidToken("claims")
    return Visitor(*fields, identified=claims.get("identified") is True, expires_at=int(claims["exp"]))
