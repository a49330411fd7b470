"""Firestore rules and indexes and Storage rules, deployed with firebase-tools when they change.

`firebase.json` pins the database and its location, because firebase-tools creates a missing
database (in nam5 unless told) instead of failing. The hash of the four files is kept as the
`utalk-rules` label of the media bucket, so an unchanged set makes no call.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from deploy.plan import Step
from deploy.state import State
from deploy.target import Target

ROOT = Path(__file__).resolve().parent.parent
FILES = ("firebase.json", "firestore.rules", "firestore.indexes.json", "storage.rules")
ONLY = "firestore:rules,firestore:indexes,storage"


def firebase_binary() -> str:
    """firebase-tools: UTALK_FIREBASE if set, else `firebase` on PATH (docs/deploy.md, prerequisites)."""
    return os.environ.get("UTALK_FIREBASE") or shutil.which("firebase") or "firebase"


def rules_hash() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def check_config() -> list[str]:
    """What firebase.json must say for the deploy to touch only the intended database."""
    config = json.loads((ROOT / "firebase.json").read_text())
    firestore = config.get("firestore", {})
    errors = []
    if not firestore.get("database") or not firestore.get("location"):
        errors.append("firebase.json: firestore.database and firestore.location must be pinned")
    for key, path in (("rules", firestore.get("rules")), ("indexes", firestore.get("indexes")),
                      ("storage rules", config.get("storage", {}).get("rules"))):
        if not path or not (ROOT / path).is_file():
            errors.append(f"firebase.json: {key} file {path!r} does not exist")
    return errors


def command(tgt: Target) -> list[str]:
    return ["deploy", "--only", ONLY, "--project", tgt.project, "--non-interactive", "--force"]


def steps(tgt: Target, state: State) -> list[Step]:
    digest = rules_hash()
    current = ((state.bucket or {}).get("labels") or {}).get("utalk-rules")
    if current == digest:
        return []
    step = Step("firestore and storage rules", "deploy", f"hash {current} -> {digest}", command(tgt),
                program="firebase")
    step.then.append(Step(f"bucket {tgt.bucket} label", "update", f"utalk-rules={digest}",
                          ["storage", "buckets", "update", f"gs://{tgt.bucket}", f"--update-labels=utalk-rules={digest}"]))
    return [step]
