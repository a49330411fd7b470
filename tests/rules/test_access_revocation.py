"""Deactivation and demotion end Firestore access (issue 12.8), on open listeners too.

The server changes a user through the same repository the users API uses (which rewrites the
access document in the same transaction); the Firebase session keeps its token (valid an hour) and
its open listener. From then on every new read is refused, and the open listener is refused at the
next change of what it watches: it is never sent a document after the change. (An idle listener
keeps what it already had: no rule can take back data a browser holds.) Bounded waits, no timing.
"""
from __future__ import annotations

import time
import uuid

import pytest
from google.cloud import firestore

from rules_client import Browser, LiveListener, query, unsigned_id_token

WAIT = 60.0  # the "within a minute", as a bound: nothing here relies on taking that long


@pytest.fixture
def world(emulators):
    """A fresh workspace (visibility "all") with one conversation and one channel, and a helper to
    make users through UserRepository (users, email index, access document in one batch)."""
    from utalk.repositories.users import UserRepository

    ws = f"ws_live_{uuid.uuid4().hex[:8]}"
    db = firestore.Client(project=emulators.project)
    db.document(f"workspaces/{ws}").set({"tenantId": "tenant_live", "settings": {}})
    db.document(f"workspaces/{ws}/conversations/c1").set({"workspaceId": ws, "assignedAgent": None})
    db.document(f"workspaces/{ws}/channels/ch1").set({"type": "whatsapp"})
    repo = UserRepository(ws)
    listeners: list[LiveListener] = []

    def user(role: str) -> str:
        uid = f"u_{uuid.uuid4().hex[:8]}"
        repo.create({"id": uid, "email": f"{uid}@example.com", "role": role, "status": "active",
                     "workspaceId": ws, "tenantId": "tenant_live", "passwordHash": "x"}, None)
        return uid

    def session(uid: str, role: str) -> tuple[Browser, str]:
        token = unsigned_id_token(emulators.project, uid, workspaceId=ws, tenantId="tenant_live", role=role)
        return Browser(f"127.0.0.1:{emulators.ports.firestore}", emulators.project, token), token

    def listen(token: str, collection: str) -> LiveListener:
        live = LiveListener(f"127.0.0.1:{emulators.ports.firestore}", emulators.project, token,
                            f"workspaces/{ws}", query(collection))
        listeners.append(live)
        assert live.current.wait(WAIT), f"listener never current: {live.refused}"
        return live

    yield {"ws": ws, "db": db, "repo": repo, "user": user, "session": session, "listen": listen}
    for live in listeners:
        live.close()


def _refused_before_delivering(live: LiveListener, doc: str) -> None:
    deadline = time.monotonic() + WAIT
    while live.refused is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live.refused and live.refused.startswith("PERMISSION_DENIED"), live.refused
    assert doc not in live.documents


def test_deactivation_refuses_new_reads_at_once_and_the_open_listener_at_the_next_change(world):
    ws, uid = world["ws"], world["user"]("agent")
    browser, token = world["session"](uid, "agent")
    live = world["listen"](token, "conversations")
    assert live.documents == [f"workspaces/{ws}/conversations/c1"]
    assert browser.get(f"workspaces/{ws}/conversations/c1").status_code == 200

    world["repo"].update(uid, {"status": "inactive"})
    assert browser.get(f"workspaces/{ws}/conversations/c1").status_code == 403
    assert browser.run_query(f"workspaces/{ws}", query("conversations")).status_code == 403
    assert live.refused is None  # an idle listener is not told anything
    new = f"workspaces/{ws}/conversations/c2"
    world["db"].document(new).set({"workspaceId": ws, "assignedAgent": None})
    _refused_before_delivering(live, new)


def test_demotion_ends_admin_reads_of_the_open_session(world):
    ws, uid = world["ws"], world["user"]("admin")
    browser, token = world["session"](uid, "admin")
    live = world["listen"](token, "channels")
    world["repo"].update(uid, {"role": "agent"})
    assert browser.get(f"workspaces/{ws}/channels/ch1").status_code == 403
    # Not even agent reads on the admin token: the session must mint a token of its new role.
    assert browser.get(f"workspaces/{ws}/conversations/c1").status_code == 403
    new = f"workspaces/{ws}/channels/ch2"
    world["db"].document(new).set({"type": "whatsapp"})
    _refused_before_delivering(live, new)
    agent_browser, _ = world["session"](uid, "agent")
    assert agent_browser.get(f"workspaces/{ws}/conversations/c1").status_code == 200
    assert agent_browser.get(f"workspaces/{ws}/channels/ch1").status_code == 403


def test_an_unchanged_user_keeps_receiving(world):
    """The control: the same listener of an active user is sent the new document."""
    ws, uid = world["ws"], world["user"]("agent")
    _, token = world["session"](uid, "agent")
    live = world["listen"](token, "conversations")
    new = f"workspaces/{ws}/conversations/c2"
    world["db"].document(new).set({"workspaceId": ws, "assignedAgent": None})
    deadline = time.monotonic() + WAIT
    while new not in live.documents and time.monotonic() < deadline:
        time.sleep(0.1)
    assert new in live.documents and live.refused is None


def test_clients_cannot_read_access_documents(world):
    ws, uid = world["ws"], world["user"]("admin")
    browser, _ = world["session"](uid, "admin")
    assert browser.get(f"workspaces/{ws}/access/{uid}").status_code == 403
    assert browser.run_query(f"workspaces/{ws}", query("access")).status_code == 403
