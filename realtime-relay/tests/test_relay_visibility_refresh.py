"""The relay's Visibility on its own (no relay process), on the real Firestore emulator: a periodic
refresh that lands between an agent's `prepare` and `connected` must not cost the agent their sight.

The refresh drops the views of workspaces with no agent counted yet (a connect that never completed),
and a connect is only counted in `connected`; CI once saw an agent of an "all" workspace connected
as limited this way, and its join of an open conversation answered not_found.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from relay_harness import STACK, new_id

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay import rooms  # noqa: E402
from relay.config import config  # noqa: E402
from relay.server import build_sio  # noqa: E402
from relay.sessions import Session  # noqa: E402
from relay.visibility import Visibility  # noqa: E402

from utalk.auth.tokens import Principal  # noqa: E402


def _connect_with_a_refresh_in_between(ws: str, user: str) -> tuple[Session, set[str]]:
    from google.cloud import firestore

    async def run():
        manager = build_sio(config(), None).manager
        sessions: dict = {}
        visibility = Visibility(manager, firestore.AsyncClient(project=STACK.project), sessions, ttl_seconds=1)
        principal = Principal(user, "agent", ws, "tenant_test", 0)
        prepared = await visibility.prepare(principal)
        await visibility.refresh()  # the periodic one, before this connect is counted
        sid = await manager.connect("eio-1", "/")
        session = sessions[sid] = Session(principal, limiter=None)
        visibility.connected(sid, session, prepared)
        return session, set(manager.get_rooms(sid, "/"))

    return asyncio.run(run())


def test_a_refresh_between_prepare_and_connected_keeps_an_all_workspace_agent_seeing_all(db):
    ws, user = new_id("ws"), new_id("u")
    db.document(f"workspaces/{ws}").set({"tenantId": "tenant_test", "settings": {}})  # default: "all"
    session, joined = _connect_with_a_refresh_in_between(ws, user)
    assert session.sees_all
    assert rooms.workspace(ws) in joined and rooms.limited(ws) not in joined


def test_a_refresh_between_prepare_and_connected_keeps_a_limited_agent_limited_with_their_conversations(db):
    ws, user, conv = new_id("ws"), new_id("u"), new_id("conv")
    db.document(f"workspaces/{ws}").set({"tenantId": "tenant_test", "settings": {"agentVisibility": "assigned"}})
    db.document(f"workspaces/{ws}/conversations/{conv}").set({"status": "open", "assignedAgent": user})
    session, joined = _connect_with_a_refresh_in_between(ws, user)
    assert not session.sees_all and session.conversations == {conv}
    assert {rooms.limited(ws), rooms.conversation(ws, conv)} <= joined and rooms.workspace(ws) not in joined
