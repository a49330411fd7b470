"""Refresh tokens (stored hashed) and their rotation families.

A refresh token is `<jti>.<secret>`. Rotating marks it used and issues the next one of the same
family; presenting an already-used token again means it leaked, so the whole family is revoked.

Except within REUSE_GRACE_SECONDS of its rotation: two tabs of one browser refreshing at once
present the same token, and the one that loses the race must not log the user out. It gets the
very successor the winner got (and a fresh access token, which is stateless), so the family stays
one chain with one live token and reuse detection is unchanged: any later presentation of a used
token still revokes the family. The server cannot hand the successor out again from storage (only
hashes are stored), so a successor's secret is derived from its predecessor's: HMAC(old secret,
successor jti). Whoever presents the old secret within the grace can recompute it; the database
alone cannot (it holds no secret), nor can a thief of the old token alone (the successor's jti is
random and only in the database).

Two kinds of owner share this: agents (`kind` absent: "user") and web chat visitors (`kind:
visitor`, with their `channelId` and whether the host site `identified` them). A token is only
ever rotated or revoked by the path of its own kind (`match`), so neither can stand for the other.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.cloud import firestore

from utalk import clients

TOKENS, FAMILIES = "refreshTokens", "tokenFamilies"
REUSE_GRACE_SECONDS = 30
# What a token and its family record of their owner (agents: the first three; visitors all).
OWNER_FIELDS = ("userId", "workspaceId", "tenantId", "kind", "channelId", "identified")
USER = {"kind": None}                  # agents' records carry no kind


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


def _successor_secret(secret: str, jti: str) -> str:
    digest = hmac.new(secret.encode(), f"utalk-refresh-successor:{jti}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _new(owner: dict, family_id: str, ttl_seconds: int, now: datetime,
         predecessor_secret: str | None = None) -> tuple[str, str, dict]:
    """A new token: random for a login, derived from its predecessor's secret for a rotation."""
    jti = uuid.uuid4().hex
    secret = _successor_secret(predecessor_secret, jti) if predecessor_secret else secrets.token_urlsafe(32)
    record = {**_owner(owner), "familyId": family_id, "secretHash": _hash(secret), "createdAt": now,
              "expiresAt": now + timedelta(seconds=ttl_seconds), "usedAt": None}
    return jti, f"{jti}.{secret}", record


def _owner(owner: dict) -> dict:
    return {k: owner[k] for k in OWNER_FIELDS if owner.get(k) is not None}


def _matches(record: dict, match: dict) -> bool:
    return all(record.get(k) == v for k, v in match.items())


def start_family(owner: dict, ttl_seconds: int) -> str:
    """A new login: a new family and its first token, in one batch."""
    db, now = clients.firestore(), datetime.now(timezone.utc)
    family_id = uuid.uuid4().hex
    jti, token, record = _new(owner, family_id, ttl_seconds, now)
    batch = db.batch()
    batch.create(db.collection(FAMILIES).document(family_id),
                 {**{k: v for k, v in _owner(owner).items() if k != "tenantId"}, "createdAt": now, "revokedAt": None})
    batch.create(db.collection(TOKENS).document(jti), record)
    batch.commit()
    return token


def rotate(token: str, ttl_seconds: int, now: datetime | None = None, match: dict = USER) -> Rotation:
    """`now` is the clock (tests inject it); outcomes as in Rotation. A token whose record does not
    have every field of `match` (another kind of owner, another chat) is "invalid", nothing written."""
    parts = _split(token)
    if parts is None:
        return Rotation("invalid")
    jti, secret = parts
    db = clients.firestore()
    ref = db.collection(TOKENS).document(jti)

    @firestore.transactional
    def run(txn) -> Rotation:
        at = now or datetime.now(timezone.utc)
        snap = ref.get(transaction=txn)
        if not snap.exists:
            return Rotation("invalid")
        record = snap.to_dict()
        if not hmac.compare_digest(record["secretHash"], _hash(secret)) or not _matches(record, match):
            return Rotation("invalid")
        fam_ref = db.collection(FAMILIES).document(record["familyId"])
        family = fam_ref.get(transaction=txn).to_dict() or {}
        if family.get("revokedAt"):
            return Rotation("revoked", record)
        used_at, successor = record.get("usedAt"), record.get("replacedBy")
        if used_at:
            if successor and at - used_at <= timedelta(seconds=REUSE_GRACE_SECONDS):
                # The other tab's refresh: the same successor again, nothing written.
                return Rotation("ok", record, f"{successor}.{_successor_secret(secret, successor)}")
            txn.update(fam_ref, {"revokedAt": at, "revokedReason": "reuse"})
            return Rotation("reuse", record)
        if record["expiresAt"] <= at:
            return Rotation("expired", record)
        new_jti, new_token, new_record = _new(record, record["familyId"], ttl_seconds, at, secret)
        txn.update(ref, {"usedAt": at, "replacedBy": new_jti})
        txn.create(db.collection(TOKENS).document(new_jti), new_record)
        return Rotation("ok", record, new_token)

    return run(db.transaction())


def revoke(token: str, reason: str = "logout", match: dict = USER) -> bool:
    """Revoke the family of a token (logout). False when the token is not ours (or not `match`'s)."""
    parts = _split(token)
    if parts is None:
        return False
    jti, secret = parts
    db = clients.firestore()
    snap = db.collection(TOKENS).document(jti).get()
    if not snap.exists or not hmac.compare_digest(snap.get("secretHash"), _hash(secret)) \
            or not _matches(snap.to_dict(), match):
        return False
    db.collection(FAMILIES).document(snap.get("familyId")).update(
        {"revokedAt": firestore.SERVER_TIMESTAMP, "revokedReason": reason})
    return True


def revoke_user(workspace_id: str, user_id: str, reason: str) -> int:
    """Revoke every family of a user (deactivation): their refresh tokens stop working at once."""
    return revoke_families(workspace_id, reason, userId=user_id)


def revoke_families(workspace_id: str, reason: str, **equal) -> int:
    """Revoke every live family of the workspace whose fields equal `equal` (a user's, a visitor's,
    a chat's identified visitors'), in pages of batches: a chat may have thousands."""
    db = clients.firestore()
    query = db.collection(FAMILIES).where(filter=firestore.FieldFilter("workspaceId", "==", workspace_id))
    for field, value in equal.items():
        query = query.where(filter=firestore.FieldFilter(field, "==", value))
    query = query.where(filter=firestore.FieldFilter("revokedAt", "==", None)).limit(PAGE)
    count = 0
    while True:
        snaps = list(query.stream())   # a page written is no longer matched (revokedAt is set)
        if not snaps:
            return count
        batch = db.batch()
        for snap in snaps:
            batch.update(snap.reference, {"revokedAt": firestore.SERVER_TIMESTAMP, "revokedReason": reason})
        batch.commit()
        count += len(snaps)


PAGE = 400   # writes per batch, under Firestore's 500
