"""Feature flags in Firestore: the platform's definitions, each workspace's overrides, usage shards.

    featureFlags/{key}                        definition (platform operators only: scripts/ops)
    featureFlags/{key}/usage/{day}~{shard}    evaluations on/off and uses, by `Increment` only
    workspaces/{ws}/flagOverrides/{key}       the workspace's own on/off (its admins, when allowed)

Every client is denied all three by firestore.rules (nothing allows them). Overrides are read
through the workspace's scope only, so no query can reach another workspace's choices.
"""
from __future__ import annotations

import random

from google.cloud import firestore

from utalk import clients
from utalk.repositories import audit
from utalk.repositories.base import WorkspaceScope, read

DEFINITIONS = "featureFlags"
OVERRIDES = "flagOverrides"
USAGE = "usage"
USAGE_SHARDS = 10   # flushes of many instances land on different documents (~1 write/s each)


def definitions() -> dict[str, dict]:
    """Every flag definition by key (a handful of small documents: one read per cache TTL)."""
    return {snap.id: snap.to_dict() for snap in clients.firestore().collection(DEFINITIONS).stream()}


def definition(key: str) -> dict | None:
    return read(clients.firestore().collection(DEFINITIONS).document(key))


def save_definition(key: str, fields: dict) -> dict:
    """Create or change a definition, stamped; returns it as stored. Each given field is replaced
    whole (a field mask: a map such as `tenants` is not merged key by key) and the others kept."""
    ref = clients.firestore().collection(DEFINITIONS).document(key)
    data = {**fields, "key": key, "updatedAt": firestore.SERVER_TIMESTAMP}
    ref.set(data, merge=list(data))
    return read(ref)


def overrides(workspace_id: str) -> dict[str, dict]:
    """The workspace's overrides by flag key."""
    col = WorkspaceScope(workspace_id).collection(OVERRIDES)
    return {snap.id: snap.to_dict() for snap in col.stream()}


def set_override(scope: WorkspaceScope, key: str, enabled: bool | None, audit_entry: dict) -> None:
    """Store (or, with None, drop) the workspace's override, with its audit record, in one batch."""
    batch = scope.db.batch()
    ref = scope.collection(OVERRIDES).document(key)
    if enabled is None:
        batch.delete(ref)
    else:
        batch.set(ref, {"key": key, "enabled": enabled, "updatedBy": audit_entry["actorId"],
                        "updatedAt": firestore.SERVER_TIMESTAMP})
    batch.set(audit.ref(scope, audit_entry["id"]), audit_entry)
    batch.commit()


def add_usage(day: str, counts: dict[str, dict[str, int]]) -> None:
    """Add `counts` ({flag key: {"on"|"off"|"used": n}}) to one random shard of `day` per flag, in one
    batch of blind increments (no read)."""
    db = clients.firestore()
    batch = db.batch()
    for key, fields in counts.items():
        ref = db.collection(DEFINITIONS).document(key).collection(USAGE) \
            .document(f"{day}~{random.randrange(USAGE_SHARDS)}")
        batch.set(ref, {"day": day, **{k: firestore.Increment(n) for k, n in fields.items() if n}}, merge=True)
    batch.commit()


def usage(key: str, since_day: str) -> dict[str, dict[str, int]]:
    """{day: {"on", "off", "used"}} summed over the shards, from `since_day` on."""
    col = clients.firestore().collection(DEFINITIONS).document(key).collection(USAGE)
    days: dict[str, dict[str, int]] = {}
    for snap in col.where(filter=firestore.FieldFilter("day", ">=", since_day)).stream():
        doc = snap.to_dict()
        total = days.setdefault(doc["day"], {"on": 0, "off": 0, "used": 0})
        for name in total:
            total[name] += int(doc.get(name) or 0)
    return dict(sorted(days.items()))
