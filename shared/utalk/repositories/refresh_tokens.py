"""Refresh tokens (stored hashed) and their rotation families.

A refresh token is `<jti>.<secret>`. Rotating marks it used and issues the next one of the same
family; presenting an already-used token again means it leaked, so the whole family is revoked.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.cloud import firestore

from utalk import clients

TOKENS, FAMILIES = "refreshTokens", "tokenFamilies"


@dataclass
class Rotation:
    outcome: str            # ok | invalid | expired | revoked | reuse
    record: dict | None = None
    token: str | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    jti, dot, secret = token.partition(".")
    if not dot or len(jti) != 32 or not all(c in "0123456789abcdef" for c in jti) or len(secret) < 20:
        return None
    return jti, secret


def _new(owner: dict, family_id: str, ttl_seconds: int, now: datetime) -> tuple[str, str, dict]:
    jti, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
    record = {"familyId": family_id, "userId": owner["userId"], "workspaceId": owner["workspaceId"],
              "tenantId": owner["tenantId"], "secretHash": _hash(secret), "createdAt": now,
              "expiresAt": now + timedelta(seconds=ttl_seconds), "usedAt": None}
    return jti, f"{jti}.{secret}", record


def start_family(owner: dict, ttl_seconds: int) -> str:
    """A new login: a new family and its first token, in one batch."""
    db, now = clients.firestore(), datetime.now(timezone.utc)
    family_id = uuid.uuid4().hex
    jti, token, record = _new(owner, family_id, ttl_seconds, now)
    batch = db.batch()
    batch.create(db.collection(FAMILIES).document(family_id),
                 {"userId": owner["userId"], "workspaceId": owner["workspaceId"], "createdAt": now,
                  "revokedAt": None})
    batch.create(db.collection(TOKENS).document(jti), record)
    batch.commit()
    return token


def rotate(token: str, ttl_seconds: int) -> Rotation:
    parts = _split(token)
    if parts is None:
        return Rotation("invalid")
    jti, secret = parts
    db = clients.firestore()
    ref = db.collection(TOKENS).document(jti)

    @firestore.transactional
    def run(txn) -> Rotation:
        now = datetime.now(timezone.utc)
        snap = ref.get(transaction=txn)
        if not snap.exists:
            return Rotation("invalid")
        record = snap.to_dict()
        if not hmac.compare_digest(record["secretHash"], _hash(secret)):
            return Rotation("invalid")
        fam_ref = db.collection(FAMILIES).document(record["familyId"])
        family = fam_ref.get(transaction=txn).to_dict() or {}
        if family.get("revokedAt"):
            return Rotation("revoked", record)
        if record.get("usedAt"):
            txn.update(fam_ref, {"revokedAt": now, "revokedReason": "reuse"})
            return Rotation("reuse", record)
        if record["expiresAt"] <= now:
            return Rotation("expired", record)
        new_jti, new_token, new_record = _new(record, record["familyId"], ttl_seconds, now)
        txn.update(ref, {"usedAt": now, "replacedBy": new_jti})
        txn.create(db.collection(TOKENS).document(new_jti), new_record)
        return Rotation("ok", record, new_token)

    return run(db.transaction())


def revoke(token: str) -> bool:
    """Revoke the family of a token (logout). False when the token is not ours."""
    parts = _split(token)
    if parts is None:
        return False
    jti, secret = parts
    db = clients.firestore()
    snap = db.collection(TOKENS).document(jti).get()
    if not snap.exists or not hmac.compare_digest(snap.get("secretHash"), _hash(secret)):
        return False
    db.collection(FAMILIES).document(snap.get("familyId")).update(
        {"revokedAt": firestore.SERVER_TIMESTAMP, "revokedReason": "logout"})
    return True


def revoke_user(workspace_id: str, user_id: str, reason: str) -> int:
    """Revoke every family of a user (deactivation): their refresh tokens stop working at once."""
    db = clients.firestore()
    query = db.collection(FAMILIES).where(filter=firestore.FieldFilter("userId", "==", user_id)) \
        .where(filter=firestore.FieldFilter("workspaceId", "==", workspace_id)) \
        .where(filter=firestore.FieldFilter("revokedAt", "==", None))
    batch, count = db.batch(), 0
    for snap in query.stream():
        batch.update(snap.reference, {"revokedAt": firestore.SERVER_TIMESTAMP, "revokedReason": reason})
        count += 1
    if count:
        batch.commit()
    return count
