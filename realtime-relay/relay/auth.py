"""Connect-time authentication: the REST API's access JWT, or a web chat visitor's token (its own
audience and type: utalk/auth/visitor_tokens.py), from the `auth` payload or a header.

Refusals carry a machine-readable code in the connect_error data ({"code": ...}); the reason a
token failed verification goes to the logs only.
"""
from __future__ import annotations

from utalk.auth import visitor_tokens
from utalk.auth.tokens import InvalidToken, Principal, verify_access_token
from utalk.auth.visitor_tokens import Visitor


class AuthError(Exception):
    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code, self.detail = code, detail


def token_from_handshake(environ: dict, auth) -> str | None:
    """The token from `auth.token` (what browsers can send) or `Authorization: Bearer`."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(environ: dict, auth) -> Principal | Visitor:
    token = token_from_handshake(environ, auth)
    if not token:
        raise AuthError("token_missing")
    if isinstance(auth, dict) and auth.get("visitor") is True:
        return verify_visitor(token)
    principal = verify(token)
    # A client that names the workspace it expects must get exactly that one: a token for another
    # workspace is refused rather than silently connecting the user to the wrong tenant's feed.
    wanted = auth.get("workspaceId") if isinstance(auth, dict) else None
    if wanted is not None and wanted != principal.workspace_id:
        raise AuthError("workspace_mismatch")
    return principal


def verify(token) -> Principal:
    if not isinstance(token, str) or not token:
        raise AuthError("token_missing")
    try:
        return verify_access_token(token)
    except InvalidToken as exc:
        code = "token_expired" if str(exc) == "ExpiredSignatureError" else "token_invalid"
        raise AuthError(code, str(exc)) from None


def verify_visitor(token) -> Visitor:
    """A visitor token (the widget connects with `auth: {token, visitor: true}`); an agent's is refused."""
    if not isinstance(token, str) or not token:
        raise AuthError("token_missing")
    try:
        return visitor_tokens.verify(token)
    except InvalidToken as exc:
        code = "token_expired" if str(exc) == "ExpiredSignatureError" else "token_invalid"
        raise AuthError(code, str(exc)) from None
