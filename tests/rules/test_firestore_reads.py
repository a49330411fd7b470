"""Single-document reads: every identity against every seeded document, allowed or refused.

The expected table below is the product decision, written out per identity rather than derived
from the rules' logic, so a rules change that widens access shows up as a failing pair.
"""
from __future__ import annotations

import pytest

from seed_data import (ACCESS, CONVERSATIONS, FULL_WORKSPACES, GLOBAL_DOCS, IDENTITIES, WORKSPACE_DOCS, WORKSPACES,
                       access_path, messages_of)


def conversation_docs(ws: str, only: set[str] | None = None) -> set[str]:
    """A workspace's conversations and their messages (optionally only some conversations)."""
    docs = set()
    for conv in CONVERSATIONS[ws]:
        if only is None or conv in only:
            docs.add(f"workspaces/{ws}/conversations/{conv}")
            docs.update(messages_of(ws, conv))
    return docs


ALL_DOCS = sorted(
    {f"workspaces/{ws}" for ws in WORKSPACES}
    | {f"workspaces/{ws}/{doc}" for ws in FULL_WORKSPACES for doc in WORKSPACE_DOCS}
    | {doc for ws in CONVERSATIONS for doc in conversation_docs(ws)}
    | set(GLOBAL_DOCS)
    | {access_path(ws, uid) for ws, uid in ACCESS})

# What each identity may read; every other document of ALL_DOCS must be refused.
ALLOWED: dict[str, set[str]] = {
    "admin_a": conversation_docs("ws_a") | {"workspaces/ws_a/agents/agent_1", "workspaces/ws_a/channels/ch_1"},
    "admin_b": conversation_docs("ws_b") | {"workspaces/ws_b/agents/agent_1", "workspaces/ws_b/channels/ch_1"},
    # ws_a: visibility unset, so "all": every conversation, but no channels.
    "agent_a1": conversation_docs("ws_a") | {"workspaces/ws_a/agents/agent_1"},
    # ws_b: "assigned": only conv_b1 (assigned to agent_b1), and presence.
    "agent_b1": conversation_docs("ws_b", {"conv_b1"}) | {"workspaces/ws_b/agents/agent_1"},
    # ws_c: an unknown visibility value behaves as "assigned".
    "agent_c1": conversation_docs("ws_c", {"conv_c1"}),
    # ws_ghost has no workspace document: as restrictive as "assigned", never "all".
    "agent_g1": conversation_docs("ws_ghost", {"conv_g1"}),
    "bot_a": set(),
    "service_a": set(),
    "admin_a_password": set(),
    "no_claims": set(),
    "role_unknown": set(),
    # What the server decided since the token was minted wins: deactivated reads nothing; a token
    # claiming admin of a user now agent reads nothing (not even agent reads) until a new token.
    "agent_a_deactivated": set(),
    "admin_a_demoted": set(),
    "agent_a_no_access": set(),
    "anonymous": set(),
}
assert set(ALLOWED) == set(IDENTITIES)
assert all(allowed <= set(ALL_DOCS) for allowed in ALLOWED.values())

CASES = [(who, doc) for who in ALLOWED for doc in ALL_DOCS]


@pytest.mark.parametrize("who, doc", CASES, ids=[f"{w}:{d}" for w, d in CASES])
def test_get(browser, who, doc):
    r = browser(who).get(doc)
    if doc in ALLOWED[who]:
        assert r.status_code == 200, r.text
        assert r.json()["name"].endswith(f"/documents/{doc}")
    else:
        assert r.status_code == 403, f"{who} read {doc}: {r.status_code} {r.text[:200]}"
        assert r.json()["error"]["status"] == "PERMISSION_DENIED"


def test_every_identity_is_refused_something_and_admins_see_their_whole_workspace():
    """Guards the table itself: no identity may read everything, admins get all conversations."""
    for who, allowed in ALLOWED.items():
        assert len(allowed) < len(ALL_DOCS), who
    assert conversation_docs("ws_a") <= ALLOWED["admin_a"]
    assert not any(doc.startswith("workspaces/ws_b") for doc in ALLOWED["admin_a"])
