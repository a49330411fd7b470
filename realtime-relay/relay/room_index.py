"""The rooms each socket is in, kept beside python-socketio's rooms, so a disconnect costs its own rooms.

python-socketio's manager finds the rooms of a leaving socket by testing every room of the
namespace (`basic_disconnect`, `get_rooms`). Every socket has a room of its own and every web chat
visitor one more (its conversation's visitor room), so at 5,000 visitors and 1,000 agents that is
~11,000 rooms tested per disconnect, and the bench's 6,000 sockets closing at once held the event
loop for ~26 s (bench/relay_visitor_bench.py): what a deploy or a network blip does to a relay.
Every room change goes through `basic_enter_room` / `basic_leave_room`, so the index is kept there.
"""
from __future__ import annotations


class RoomIndex:
    """Mixin before a socketio manager class: sid -> the rooms it joined besides None and its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._joined: dict[str, dict[str, list]] = {}   # namespace -> sid -> rooms

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is not None and room != sid:   # every socket is in these two: nothing to index
            # A list, not a set: a socket is in a few rooms, and this is memory per socket.
            joined = self._joined.setdefault(namespace, {}).setdefault(sid, [])
            if room not in joined:
                joined.append(room)

    def basic_leave_room(self, sid, namespace, room):
        super().basic_leave_room(sid, namespace, room)
        joined = self._joined.get(namespace, {}).get(sid)
        if joined is not None and room in joined:
            joined.remove(room)

    def get_rooms(self, sid, namespace):
        if sid not in self.rooms.get(namespace, {}).get(None, {}):
            return []
        return [sid, *self._joined.get(namespace, {}).get(sid, ())]

    def basic_disconnect(self, sid, namespace, **kwargs):
        """The base class's bookkeeping, with the socket's own rooms instead of a scan of all."""
        if namespace not in self.rooms:
            return
        for room in [*self._joined.get(namespace, {}).pop(sid, ()), sid, None]:
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]


def indexed(manager_class):
    """`manager_class` with the room index (relay/server.py builds the relay's manager with it)."""
    return type(f"Indexed{manager_class.__name__}", (RoomIndex, manager_class), {})
