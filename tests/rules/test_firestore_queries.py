"""Queries and listeners: what a frontend's conversation list, thread and presence listeners get.

Rules are not filters: a query is refused whole unless every document it could return is
readable, so an "assigned" agent's listener must itself filter on assignedAgent. Each case is
checked twice: as a one-shot runQuery (REST) and as a real Listen stream (gRPC, what onSnapshot
opens), which must agree.
"""
from __future__ import annotations

import pytest

from rules_client import query, query_docs
from seed_data import CONVERSATIONS, messages_of


def convs(ws: str, *ids: str) -> list[str]:
    return sorted(f"workspaces/{ws}/conversations/{c}" for c in (ids or CONVERSATIONS[ws]))


def msgs(ws: str, *conv_ids: str) -> list[str]:
    return sorted(m for c in (conv_ids or CONVERSATIONS[ws]) for m in messages_of(ws, c))


CG = ""  # parent of a collection-group query: the database root

# (who, parent, collection, allDescendants, where, expected documents or None when refused)
CASES = [
    # conversation lists
    ("admin_a", "workspaces/ws_a", "conversations", False, None, convs("ws_a")),
    ("admin_a", "workspaces/ws_b", "conversations", False, None, None),
    ("admin_a", "workspaces/ws_b", "conversations", False, {"workspaceId": "ws_a"}, None),
    ("agent_a1", "workspaces/ws_a", "conversations", False, None, convs("ws_a")),
    ("agent_a1", "workspaces/ws_b", "conversations", False, None, None),
    ("agent_b1", "workspaces/ws_b", "conversations", False, None, None),
    ("agent_b1", "workspaces/ws_b", "conversations", False, {"assignedAgent": "agent_b1"}, convs("ws_b", "conv_b1")),
    ("agent_b1", "workspaces/ws_b", "conversations", False, {"assignedAgent": "agent_b2"}, None),
    ("agent_c1", "workspaces/ws_c", "conversations", False, None, None),
    ("agent_c1", "workspaces/ws_c", "conversations", False, {"assignedAgent": "agent_c1"}, convs("ws_c", "conv_c1")),
    ("admin_b", "workspaces/ws_b", "conversations", False, None, convs("ws_b")),
    ("bot_a", "workspaces/ws_a", "conversations", False, None, None),
    ("service_a", "workspaces/ws_a", "conversations", False, None, None),
    ("anonymous", "workspaces/ws_a", "conversations", False, None, None),
    ("admin_a_password", "workspaces/ws_a", "conversations", False, None, None),
    # message threads
    ("admin_a", "workspaces/ws_a/conversations/conv_a1", "messages", False, None, msgs("ws_a", "conv_a1")),
    ("admin_a", "workspaces/ws_b/conversations/conv_b1", "messages", False, None, None),
    ("agent_b1", "workspaces/ws_b/conversations/conv_b1", "messages", False, None, msgs("ws_b", "conv_b1")),
    ("agent_b1", "workspaces/ws_b/conversations/conv_b2", "messages", False, None, None),
    ("agent_b1", "workspaces/ws_b/conversations/conv_b3", "messages", False, None, None),
    ("bot_a", "workspaces/ws_a/conversations/conv_a1", "messages", False, None, None),
    # collection group "messages": scoped by the message's workspaceId, which the query must filter
    ("admin_a", CG, "messages", True, {"workspaceId": "ws_a"}, msgs("ws_a")),
    ("admin_a", CG, "messages", True, None, None),
    ("admin_a", CG, "messages", True, {"workspaceId": "ws_b"}, None),
    ("agent_a1", CG, "messages", True, {"workspaceId": "ws_a"}, msgs("ws_a")),
    ("agent_b1", CG, "messages", True, {"workspaceId": "ws_b"}, None),  # assigned-only: no group queries
    ("admin_b", CG, "messages", True, {"workspaceId": "ws_b"}, msgs("ws_b")),
    ("bot_a", CG, "messages", True, {"workspaceId": "ws_a"}, None),
    ("anonymous", CG, "messages", True, {"workspaceId": "ws_a"}, None),
    # presence and channels
    ("agent_a1", "workspaces/ws_a", "agents", False, None, ["workspaces/ws_a/agents/agent_1"]),
    ("agent_a1", "workspaces/ws_b", "agents", False, None, None),
    ("agent_a1", "workspaces/ws_a", "channels", False, None, None),
    ("admin_a", "workspaces/ws_a", "channels", False, None, ["workspaces/ws_a/channels/ch_1"]),
    # sessions the server has since deactivated or demoted (seed_data.ACCESS)
    ("agent_a_deactivated", "workspaces/ws_a", "conversations", False, None, None),
    ("agent_a_deactivated", "workspaces/ws_a", "agents", False, None, None),
    ("agent_a_deactivated", CG, "messages", True, {"workspaceId": "ws_a"}, None),
    ("admin_a_demoted", "workspaces/ws_a", "conversations", False, None, None),
    ("admin_a_demoted", "workspaces/ws_a", "channels", False, None, None),
    ("admin_a_demoted", CG, "messages", True, {"workspaceId": "ws_a"}, None),
    ("agent_a_no_access", "workspaces/ws_a", "conversations", False, None, None),
    # protected collections, even for the workspace's own admin
    *[("admin_a", "workspaces/ws_a", c, False, None, None)
      for c in ("users", "access", "secrets", "channelSecrets", "idempotency", "botRuns", "escalations", "media",
                "auditLog", "flagOverrides")],
    ("admin_a", CG, "auditLog", True, None, None),
    ("admin_a", CG, "flagOverrides", True, None, None),
    ("admin_a", CG, "usage", True, None, None),
    *[("admin_a", "", c, False, None, None)
      for c in ("userEmails", "refreshTokens", "tokenFamilies", "rateLimits", "channelRoutes", "tenants",
                "workspaces", "featureFlags")],
    ("admin_a", CG, "users", True, None, None),
    ("admin_a", CG, "secrets", True, None, None),
    ("admin_a", CG, "channelSecrets", True, None, None),
]


def _id(case) -> str:
    who, parent, coll, descendants, where, expected = case
    scope = "group" if descendants else (parent or "root")
    filt = ",".join(f"{k}={v}" for k, v in (where or {}).items())
    return f"{who}:{scope}/{coll}" + (f"[{filt}]" if filt else "") + (":deny" if expected is None else ":allow")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_run_query(browser, case):
    who, parent, coll, descendants, where, expected = case
    r = browser(who).run_query(parent, query(coll, all_descendants=descendants, where=where))
    if expected is None:
        assert r.status_code == 403, f"{r.status_code} {r.text[:300]}"
    else:
        assert r.status_code == 200, r.text[:300]
        assert query_docs(r) == expected


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_listener(browser, case):
    who, parent, coll, descendants, where, expected = case
    result = browser(who).listen(parent, query(coll, all_descendants=descendants, where=where))
    if expected is None:
        assert result.denied, f"listener not refused by the rules: {result}"
    else:
        assert result.allowed, result.error
        assert result.documents == expected
