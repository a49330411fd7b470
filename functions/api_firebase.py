"""POST /api/v1/auth/firebase-token: exchange our access token for a Firebase custom token.

Any authenticated role may ask; what the resulting Firebase session can read is decided by
`firestore.rules` from the claims in the token (bots and services get a token but read nothing).
"""
from __future__ import annotations

from utalk import http
from utalk.auth import firebase_tokens

# Outside local/test a missing service account stops the instance at load, not at the first user.
firebase_tokens.require_configured()


@http.endpoint("auth_firebase_token")
def firebase_token(call: http.Call):
    return {"token": firebase_tokens.mint(call.principal), "expiresIn": firebase_tokens.LIFETIME_SECONDS}
