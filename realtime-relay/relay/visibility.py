"""Which sockets may hear which conversation: the relay's side of utalk/visibility.py.

The webhook publishes without reading the conversation (it cannot know the assignee), so the relay
keeps the rooms right instead, without a Firestore read per emitted event:
- Each socket is in `rooms.workspace(ws)` if it sees every conversation (admins; agents while the
  workspace's agentVisibility is "all"), else in `rooms.limited(ws)`. Events of audience `workspace`
  go to the first only; a limited socket hears a conversation only through the conversation's room.
- A limited agent's sockets are in the rooms of the conversations assigned to them: found with one
  query when the socket connects (`assignedAgent == uid`, at most MAX_HELD), then kept up to date
  by the assignment events below. So they hear their own conversations without asking, as a sees-all
  socket hears all of them.
- `conversation:join`: the REST rule. Admins and sees-all agents any conversation of the workspace;
  agents under "assigned" only their own (any other is `not_found`, as REST's 404); bots and
  services none (`forbidden`, without a read).
- Assignment changes reach the relay as the events it emits: `conversation:assigned` (agentId) and
  `conversation:updated` of reason `assignment` or `bot` (assignedAgent; null = nobody holds it).
  Every instance delivers every emitted event to its own sockets (the Redis manager), and right
  after, its manager (`hooked`) has it move its own limited sockets: out of the conversation's room
  unless it is now theirs, the new holder's in. The one losing it hears the event that took it away
  and nothing after; the one getting it hears the conversation from then on without asking.
- agentVisibility per workspace is this instance's view: read when the first agent of a workspace
  connects here (concurrent connects share the read), then re-read every TTL for the workspaces
  that have agents here (one batched read for all), so a switch is applied within the TTL; a
  `workspace:updated` event naming `agentVisibility` (an admin's PATCH of the settings) has every
  instance re-read that workspace at once instead. A switch moves the workspace's agents between
  the two rooms; to "assigned", the conversations they had joined are re-checked (one batched read)
  and those not theirs are left. Re-reads run one at a time, so an older read never undoes a newer.
Room moves use the manager's synchronous local calls: a decision and the move it implies happen
in one step of the event loop, so no assignment event can slip between them.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import contextmanager

from google.cloud.firestore import FieldFilter
from socketio.async_pubsub_manager import AsyncPubSubManager

from utalk import logs
from utalk.visibility import agents_see_all, sees_all

from . import rooms, visitors
from .sessions import Session

log = logs.get("relay.visibility")

NS = "/"
ASSIGNMENT_EVENTS = frozenset({"conversation:assigned", "conversation:updated"})
SETTINGS_EVENT = "workspace:updated"
# The most conversations a connecting limited agent is put in (capacities are ~10); more can be joined.
MAX_HELD = 200


def new_holder(event: str, payload) -> tuple[bool, str | None]:
    """(whether the event changes who holds its conversation, the new holder or None)."""
    if not isinstance(payload, dict):
        return False, None
    if event == "conversation:assigned":
        return True, payload.get("agentId")
    if event == "conversation:updated" and payload.get("reason") in ("assignment", "bot"):
        return True, payload.get("assignedAgent")
    return False, None


class _Watch:
    """The assignment changes of a workspace's conversations seen while a read was in flight (a join
    reading its conversation, a connect querying the agent's): newer than the read may be."""
    __slots__ = ("changes",)

    def __init__(self):
        self.changes: dict[str, str | None] = {}  # conversation -> its new holder


class Visibility:
    def __init__(self, manager, db, sessions, ttl_seconds: float):
        self.manager, self.db, self.sessions, self.ttl = manager, db, sessions, ttl_seconds
        self._view: dict[str, bool] = {}        # workspace -> agents see all (workspaces with agents here)
        self._agents: Counter[str] = Counter()  # agent sockets per workspace on this instance
        self._reading: dict[str, asyncio.Future] = {}
        self._watches: dict[str, list[_Watch]] = {}  # workspace -> reads in flight
        self._refreshing = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    # -- connect and disconnect -------------------------------------------------------------------
    async def prepare(self, principal) -> tuple[bool, frozenset[str]]:
        """Before a connect (agents only): this instance's view of the workspace's setting, and if
        the agent is limited by it, the conversations assigned to them. The view is returned, not
        looked up again by `connected`: a periodic refresh in between drops views of workspaces with
        no agent connected yet (this one, until `connected` counts it)."""
        ws = principal.workspace_id
        if principal.role != "agent":
            return False, frozenset()
        view = self._view[ws] if ws in self._view else await self._read_setting(ws)
        if view:
            return True, frozenset()
        query = self.db.collection(f"workspaces/{ws}/conversations") \
            .where(filter=FieldFilter("assignedAgent", "==", principal.user_id)).select([]).limit(MAX_HELD)
        with self._watching(ws) as watch:
            held = {snap.id async for snap in query.stream()}
        for conv, holder in watch.changes.items():
            (held.add if holder == principal.user_id else held.discard)(conv)
        return False, frozenset(held)

    def connected(self, sid: str, session: Session, prepared: tuple[bool, frozenset[str]]) -> None:
        """Decide the socket's sight and put it in its rooms (workspace or limited, its own agent
        room, the conversations it holds), in one step (after prepare, with what it returned)."""
        ws, role = session.workspace_id, session.principal.role
        view, held = prepared
        if role == "agent":
            self._agents[ws] += 1
            # A refresh or settings change that landed after prepare is newer: keep it.
            view = self._view.setdefault(ws, view)
        session.sees_all = sees_all(role, view)
        self.manager.basic_enter_room(sid, NS, rooms.workspace(ws) if session.sees_all else rooms.limited(ws))
        self.manager.basic_enter_room(sid, NS, rooms.agent(ws, session.user_id))
        if not session.sees_all and held:
            session.conversations = held
            for conv in held:
                self.manager.basic_enter_room(sid, NS, rooms.conversation(ws, conv))

    def disconnected(self, session: Session) -> None:
        ws = session.workspace_id
        if session.principal.role == "agent":
            self._agents[ws] -= 1
            if self._agents[ws] <= 0:
                del self._agents[ws]
                self._view.pop(ws, None)

    async def _read_setting(self, ws: str) -> bool:
        pending = self._reading.get(ws)
        if pending is None:
            pending = self._reading[ws] = asyncio.ensure_future(self._fetch(ws))
            pending.add_done_callback(lambda _: self._reading.pop(ws, None))
        return await asyncio.shield(pending)

    async def _fetch(self, ws: str) -> bool:
        snap = await self._read(f"workspaces/{ws}", "settings")
        # A refresh that raced this read keeps its (newer) value.
        return self._view.setdefault(ws, agents_see_all(snap.to_dict() if snap.exists else None))

    async def _read(self, path: str, field: str):
        """One document, one field of it. Through get_all, which reads its stream to the end:
        DocumentReference.get() returns mid-stream, leaving the call and a pending aclose() behind
        (about 20 KB each, measured with bench/relay_memory.py)."""
        return [snap async for snap in self.db.get_all([self.db.document(path)], field_paths=[field])][0]

    # -- conversation:join ----------------------------------------------------------------------
    async def join(self, sid: str, session: Session, conv: str) -> str | None:
        """Enter the conversation's room if this socket may see it; the refusal code otherwise."""
        if conv in session.conversations:
            return None
        if session.principal.role not in ("admin", "agent"):
            return "forbidden"
        ws = session.workspace_id
        with self._watching(ws) as watch:
            # Under the socket's own workspace: another workspace's conversation does not exist here.
            snap = await self._read(f"workspaces/{ws}/conversations/{conv}", "assignedAgent")
        if not snap.exists:
            return "not_found"
        # A reassignment the relay emitted while the read was in flight is newer than the read
        # may be: trust the event then (if wrong, only in refusing).
        holder = watch.changes[conv] if conv in watch.changes else (snap.to_dict() or {}).get("assignedAgent")
        if not session.sees_all and holder != session.user_id:
            return "not_found"
        if self.sessions.get(sid) is session:  # still connected
            session.conversations = session.conversations | {conv}
            self.manager.basic_enter_room(sid, NS, rooms.conversation(ws, conv))
        return None

    def leave(self, sid: str, session: Session, conv: str) -> None:
        if conv in session.conversations:
            session.conversations = session.conversations - {conv}
            self.manager.basic_leave_room(sid, NS, rooms.conversation(session.workspace_id, conv))

    # -- assignment changes (the manager calls this after delivering every event) ------------------
    def emitted(self, event: str, payload, targets) -> None:
        if event == visitors.ENDED:
            self._end_visitors(targets)
            return
        if event == SETTINGS_EVENT:
            self._settings_changed(payload, targets)
            return
        if event not in ASSIGNMENT_EVENTS:
            return
        changed, holder = new_holder(event, payload)
        if not changed:
            return
        for room in [targets] if isinstance(targets, str) else (targets or ()):
            parsed = rooms.parse_conversation(room)
            if parsed is not None:
                self._reassigned(*parsed, holder)

    def _end_visitors(self, targets) -> None:
        """A blocked visitor's sockets on this instance, which have just been told: closed. Every
        instance runs this for its own (`hooked`), so none needs to know where the others are."""
        for room in [targets] if isinstance(targets, str) else (targets or ()):
            if not rooms.is_visitor(room):   # only a visitor's own room is ever closed this way
                continue
            for sid, _ in list(self.manager.get_participants(NS, room)):
                task = asyncio.ensure_future(self.manager.server.disconnect(sid, namespace=NS, ignore_queue=True))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @contextmanager
    def _watching(self, ws: str):
        watch = _Watch()
        self._watches.setdefault(ws, []).append(watch)
        try:
            yield watch
        finally:
            watches = self._watches[ws]
            watches.remove(watch)
            if not watches:
                del self._watches[ws]

    def _reassigned(self, ws: str, conv: str, holder: str | None) -> None:
        for watch in self._watches.get(ws, ()):
            watch.changes[conv] = holder
        room = rooms.conversation(ws, conv)
        for sid, _ in list(self.manager.get_participants(NS, room)):
            session = self.sessions.get(sid)
            if session is not None and not session.sees_all and session.user_id != holder:
                self.leave(sid, session, conv)
        if holder is None:
            return
        for sid, eio_sid in list(self.manager.get_participants(NS, rooms.agent(ws, holder))):
            session = self.sessions.get(sid)
            if session is not None and not session.sees_all and conv not in session.conversations:
                session.conversations = session.conversations | {conv}
                self.manager.basic_enter_room(sid, NS, room, eio_sid=eio_sid)

    # -- visibility switches ----------------------------------------------------------------------
    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl)
            try:
                await self.refresh()
            except Exception:
                log.exception("visibility refresh failed; keeping the last known settings")

    def _settings_changed(self, payload, targets) -> None:
        """`workspace:updated` (payload `paths`): re-read agentVisibility now if it changed."""
        if not isinstance(payload, dict) or "agentVisibility" not in (payload.get("paths") or ()):
            return
        for room in [targets] if isinstance(targets, str) else (targets or ()):
            ws = rooms.parse_workspace(room)
            if ws is not None and ws in self._agents:
                task = asyncio.ensure_future(self._refresh_now(ws))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _refresh_now(self, ws: str) -> None:
        try:
            await self.refresh(only=ws)
        except Exception:
            log.exception("visibility refresh failed; the next periodic one retries", extra={"workspaceId": ws})

    async def refresh(self, only: str | None = None) -> None:
        """Re-read the setting of every workspace with agents here (or of `only`; one batched
        read) and apply what changed."""
        async with self._refreshing:
            await self._refresh(only)

    async def _refresh(self, only: str | None) -> None:
        for ws in [ws for ws in self._view if ws not in self._agents]:
            del self._view[ws]  # read for a connect that did not complete
        workspaces = [ws for ws in self._agents if only in (None, ws)]
        if not workspaces:
            return
        refs = [self.db.document(f"workspaces/{ws}") for ws in workspaces]
        read = {snap.id: agents_see_all(snap.to_dict() if snap.exists else None)
                async for snap in self.db.get_all(refs, field_paths=["settings"])}
        for ws in workspaces:
            value = read.get(ws, False)
            if ws in self._agents and self._view.get(ws) != value:
                self._view[ws] = value
                await self._switch(ws, value)

    async def _switch(self, ws: str, agents_see: bool) -> None:
        log.info("agent visibility switched", extra={"workspaceId": ws, "agentsSeeAll": agents_see})
        moved = []
        for sid, session in list(self.sessions.items()):
            if session.workspace_id == ws and session.principal.role == "agent" and session.sees_all != agents_see:
                session.sees_all = agents_see
                self.manager.basic_leave_room(sid, NS, rooms.limited(ws) if agents_see else rooms.workspace(ws))
                self.manager.basic_enter_room(sid, NS, rooms.workspace(ws) if agents_see else rooms.limited(ws))
                moved.append((sid, session, session.conversations))
        if agents_see:
            return
        # Now limited: keep only the conversations joined before the switch that are theirs (joins
        # from now on are checked as limited ones).
        joined = sorted({conv for _, _, convs in moved for conv in convs})
        if not joined:
            return
        refs = [self.db.document(f"workspaces/{ws}/conversations/{conv}") for conv in joined]
        holders = {snap.id: (snap.to_dict() or {}).get("assignedAgent")
                   async for snap in self.db.get_all(refs, field_paths=["assignedAgent"])}
        for sid, session, convs in moved:
            for conv in convs:
                if not session.sees_all and holders.get(conv) != session.user_id:
                    self.leave(sid, session, conv)


def hooked(manager_class):
    """`manager_class` calling `visibility.emitted(event, payload, rooms)` after each local delivery.

    For the Redis manager that is `_handle_emit`, which runs on every instance for every emit (the
    emitting one's own, and each other's from the Redis channel); for the in-process manager, `emit`.
    """
    if issubclass(manager_class, AsyncPubSubManager):
        class Hooked(manager_class):
            visibility: Visibility | None = None

            async def _handle_emit(self, message):
                await super()._handle_emit(message)
                if self.visibility is not None:
                    data = message.get("data") or [None]
                    self.visibility.emitted(message.get("event"), data[0], message.get("room"))
    else:
        class Hooked(manager_class):
            visibility: Visibility | None = None

            async def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None,
                           **kwargs):
                await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                                   to=to, **kwargs)
                if self.visibility is not None:
                    self.visibility.emitted(event, data, to or room)
    Hooked.__name__ = f"Visibility{manager_class.__name__}"
    return Hooked
