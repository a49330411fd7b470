"""The relay's manager (as relay/server.py builds it) on its own, no processes: a disconnect leaves
exactly the rooms its socket was in, found from the room index, without testing anyone else's room
(python-socketio's own scan of every room held the loop for ~26 s at 6,000 sockets closing)."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bidict import bidict

import relay_harness  # noqa: F401  (the stack's environment, which the relay's settings read)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay import rooms  # noqa: E402
from relay.config import config  # noqa: E402
from relay.server import build_sio  # noqa: E402

NS = "/"


class Watched(bidict):
    """A room that counts how often anyone asks whether a socket is in it."""
    asked = 0

    def __contains__(self, sid):
        Watched.asked += 1
        return super().__contains__(sid)


def _manager():
    return build_sio(config(), None).manager


def _connect(manager, n: int) -> str:
    return asyncio.run(manager.connect(f"eio-{n}", NS))


def test_a_disconnect_leaves_its_rooms_only_and_tests_no_other_room():
    manager = _manager()
    visitors = [_connect(manager, k) for k in range(50)]
    for k, sid in enumerate(visitors):
        manager.basic_enter_room(sid, NS, rooms.visitor("ws_a", f"conv_web:v{k}_web:wk_1"))
    agent, other = _connect(manager, 100), _connect(manager, 101)
    for sid in (agent, other):
        manager.basic_enter_room(sid, NS, rooms.workspace("ws_a"))
    manager.basic_enter_room(agent, NS, rooms.agent("ws_a", "u1"))
    manager.basic_enter_room(agent, NS, rooms.limited("ws_a"))       # moved, as a visibility switch does
    manager.basic_leave_room(agent, NS, rooms.workspace("ws_a"))
    manager.basic_enter_room(agent, NS, rooms.conversation("ws_a", "conv_1"))
    assert sorted(manager.get_rooms(agent, NS)) == sorted(
        [agent, rooms.agent("ws_a", "u1"), rooms.limited("ws_a"), rooms.conversation("ws_a", "conv_1")])

    for room in [r for r in manager.rooms[NS] if r is not None and r.startswith("ws:ws_a:visitor:")]:
        manager.rooms[NS][room] = Watched(manager.rooms[NS][room])
    Watched.asked = 0
    manager.pre_disconnect(agent, NS)
    manager.basic_disconnect(agent, NS)

    assert Watched.asked == 0                       # no visitor's room was looked at
    assert not manager.is_connected(agent, NS) and manager.get_rooms(agent, NS) == []
    left = {room: set(members) for room, members in manager.rooms[NS].items() if room is not None}
    assert not any(agent in members for members in left.values())
    for gone in (agent, rooms.agent("ws_a", "u1"), rooms.limited("ws_a"), rooms.conversation("ws_a", "conv_1")):
        assert gone not in left                     # rooms left empty are dropped, as before
    assert left[rooms.workspace("ws_a")] == {other}
    assert all(left[rooms.visitor("ws_a", f"conv_web:v{k}_web:wk_1")] == {sid} for k, sid in enumerate(visitors))
    assert manager.pending_disconnect.get(NS, []) == []


def test_every_socket_disconnecting_empties_the_rooms():
    manager = _manager()
    sids = [_connect(manager, k) for k in range(20)]
    for k, sid in enumerate(sids):
        manager.basic_enter_room(sid, NS, rooms.workspace(f"ws_{k % 2}"))
        manager.basic_enter_room(sid, NS, rooms.visitor("ws_0", f"conv_web:v{k}_web:wk_1"))
    for sid in sids:
        manager.basic_disconnect(sid, NS)
    assert NS not in manager.rooms


def test_only_visitor_rooms_parse_as_visitor_rooms():
    """What relay/visibility._end_visitors closes: a visitor's own room, never a workspace's or an agent's."""
    assert rooms.is_visitor(rooms.visitor("ws_a", "conv_web:v1_web:wk_1"))
    for room in (rooms.workspace("ws_a"), rooms.limited("ws_a"), rooms.agent("ws_a", "u1"),
                 rooms.conversation("ws_a", "conv_web:v1_web:wk_1"), "ws:ws_a:visitor:", "visitor:x", "ws:a:b:visitor:c"):
        assert not rooms.is_visitor(room), room
