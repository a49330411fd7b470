"""POST /api/v1/auth/firebase-token: exchange our access token for a Firebase custom token.

Any authenticated role may ask; what the resulting Firebase session can read is decided by
`firestore.rules` from the claims in the token (bots and services get a token but read nothing).
Admins and agents get the role the server grants now: none (403 `account_inactive`) once deactivated.
"""
from __future__ import annotations

from utalk import http
from utalk.models.users import FirebaseToken
from utalk.auth import firebase_tokens

# Outside local/test a missing service account stops the instance at load, not at the first user.
firebase_tokens.require_configured()


@http.endpoint("auth_firebase_token", response=FirebaseToken, raises=(403,))
def firebase_token(call: http.Call):
    principal = firebase_tokens.current(call.principal)
    return {"token": firebase_tokens.mint(principal), "expiresIn": firebase_tokens.LIFETIME_SECONDS}
