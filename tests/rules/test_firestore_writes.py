"""No client writes anywhere: every write goes through the functions (Admin SDK, rules bypassed).

Each identity, admins of their own workspace included, tries each kind of write (create, update,
delete, batched commit) on documents it may read and on ones it may not; afterwards the data is
checked unchanged through the owner client, so a write that slipped through cannot hide behind a
misleading status code.
"""
from __future__ import annotations

import os

import pytest
from google.cloud import firestore

WRITERS = ["admin_a", "agent_a1", "agent_b1", "bot_a", "service_a", "admin_a_password", "anonymous"]

# (what, where): the documents clients most plausibly try to write.
TARGETS = [
    ("conversation", "workspaces/ws_a/conversations/conv_a1"),
    ("message", "workspaces/ws_a/conversations/conv_a1/messages/msg_conv_a1_1"),
    ("own presence", "workspaces/ws_a/agents/agent_1"),
    ("channel", "workspaces/ws_a/channels/ch_1"),
    ("user (role escalation)", "workspaces/ws_a/users/u1"),
    ("workspace settings", "workspaces/ws_a"),
    ("other workspace conversation", "workspaces/ws_b/conversations/conv_b1"),
    ("refresh token", "refreshTokens/jti_1"),
    ("rate limit", "rateLimits/login:1.2.3.4"),
]
FIELDS = {"status": {"stringValue": "hacked"}}

CASES = [(who, what, path) for who in WRITERS for what, path in TARGETS]
IDS = [f"{who}:{what}" for who, what, _ in CASES]


def _parent_and_id(path: str) -> tuple[str, str]:
    parent, _, doc_id = path.rpartition("/")
    return parent, doc_id


def _denied(r) -> None:
    assert r.status_code == 403, f"{r.status_code} {r.text[:200]}"


@pytest.mark.parametrize("who, what, path", CASES, ids=IDS)
def test_update_delete_commit_refused(browser, who, what, path):
    client = browser(who)
    _denied(client.update(path, FIELDS))
    _denied(client.delete(path))
    _denied(client.commit(path, FIELDS))


@pytest.mark.parametrize("who, what, path", CASES, ids=IDS)
def test_create_refused(browser, who, what, path):
    parent, doc_id = _parent_and_id(path)
    _denied(browser(who).create(parent, f"new_{doc_id}", FIELDS))


def test_data_unchanged_after_all_write_attempts(seeded):
    """Runs last in this module: nothing any client tried above may have landed."""
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    for _, path in TARGETS:
        snap = db.document(path).get()
        assert snap.exists, path
        assert snap.to_dict().get("status") != "hacked", path
        parent, doc_id = _parent_and_id(path)
        assert not db.document(f"{parent}/new_{doc_id}").get().exists, path
