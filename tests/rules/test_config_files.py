"""The deploy configuration the Firebase CLI reads: firebase.json, the rules files it names.

Storage rules cannot be run locally (the storage emulator of this stack, gcp-storage-emulator,
does not evaluate rules), so they are checked for their one property: nothing is allowed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from devstack.stack import DEV_PORTS

ROOT = Path(__file__).resolve().parents[2]


def test_firebase_json_references_existing_rules_and_indexes():
    cfg = json.loads((ROOT / "firebase.json").read_text())
    for ref in (cfg["firestore"]["rules"], cfg["firestore"]["indexes"], cfg["storage"]["rules"]):
        assert (ROOT / ref).is_file(), ref
    indexes = json.loads((ROOT / cfg["firestore"]["indexes"]).read_text())
    assert isinstance(indexes["indexes"], list) and isinstance(indexes["fieldOverrides"], list)


def test_firebase_json_emulator_ports_are_the_dev_stack_ports():
    emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
    assert emulators["firestore"]["port"] == DEV_PORTS.firestore
    assert emulators["pubsub"]["port"] == DEV_PORTS.pubsub
    assert emulators["storage"]["port"] == DEV_PORTS.storage
    assert all(e.get("host", "127.0.0.1") == "127.0.0.1" for e in emulators.values() if isinstance(e, dict)
               and "port" in e)


def test_storage_rules_allow_nothing():
    text = re.sub(r"//[^\n]*", "", (ROOT / "storage.rules").read_text())  # comments out
    allows = re.findall(r"allow\s+([^:]+):\s*if\s+([^;]+);", text)
    assert allows, "no allow statement found"
    assert all(cond.strip() == "false" for _, cond in allows), allows
    assert "service firebase.storage" in text


def test_firestore_rules_never_allow_writes():
    text = re.sub(r"//[^\n]*", "", (ROOT / "firestore.rules").read_text())
    methods = [m for ms in re.findall(r"allow\s+([a-z, ]+):", text) for m in re.split(r"[ ,]+", ms) if m]
    assert methods and set(methods) <= {"get", "list", "read"}, methods


def test_every_expiring_collection_has_a_ttl_policy():
    """Documents written with an expiry for Firestore to delete them (rate-limit windows, AI
    windows, analytics markers, refresh tokens) have a TTL policy on that field in the indexes
    file `firebase deploy --only firestore:indexes` deploys, else they would pile up forever; the
    field is exempt from indexing (an index on an ever-increasing timestamp hot-spots writes)."""
    from utalk import ratelimit
    from utalk.repositories import refresh_tokens

    overrides = json.loads((ROOT / "firestore.indexes.json").read_text())["fieldOverrides"]
    ttl = {(o["collectionGroup"], o["fieldPath"]) for o in overrides if o.get("ttl")}
    assert {(ratelimit.COLLECTION, "expireAt"), ("aiUsage", "expireAt"), ("analyticsEvents", "expireAt"),
            (refresh_tokens.TOKENS, "expiresAt")} <= ttl
    assert all(o["indexes"] == [] for o in overrides if o.get("ttl"))
