"""Channels of a workspace and the global inbound routing table (provider address -> workspace)."""
from __future__ import annotations

import os
import threading
import time

from google.api_core.exceptions import AlreadyExists

from utalk import clients, errors
from utalk.repositories.base import WorkspaceScope, read, safe_id

ROUTES = "channelRoutes"


def route_key(channel_type: str, address: str) -> str:
    return f"{channel_type}:{address}"


# Routes change when an admin connects a number, almost never afterwards, and every inbound message
# needs one: each instance keeps the ones it has seen for a short while, so the hot path usually
# reads nothing. Unknown numbers are not cached (a channel connected a second ago works at once).
_ROUTE_TTL = float(os.environ.get("UTALK_ROUTE_CACHE_SECONDS", "60"))
_routes: dict[str, tuple[float, dict]] = {}
_routes_lock = threading.Lock()


def find_route(channel_type: str, address: str) -> dict | None:
    """Which workspace/channel owns this number: at most one read, usually none (cached)."""
    key = route_key(channel_type, address)
    now = time.monotonic()
    hit = _routes.get(key)
    if hit and hit[0] > now:
        return hit[1]
    route = read(clients.firestore().collection(ROUTES).document(key))
    if route is not None and _ROUTE_TTL > 0:
        with _routes_lock:
            if len(_routes) > 10_000:  # bound memory: drop everything, it refills on demand
                _routes.clear()
            _routes[key] = (now + _ROUTE_TTL, route)
    return route


class ChannelRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.channels = self.scope.collection("channels")

    def create(self, channel: dict, route: dict) -> None:
        """Channel and its route in one batch; a number another workspace owns fails whole (409)."""
        db = self.scope.db
        batch = db.batch()
        batch.create(db.collection(ROUTES).document(route_key(channel["type"], channel["address"])), route)
        batch.create(self.channels.document(channel["id"]), channel)
        try:
            batch.commit()
        except AlreadyExists:
            raise errors.Conflict("This number is already connected to a channel", code="channel_exists") \
                from None

    def get(self, channel_id: str) -> dict | None:
        return read(self.channels.document(safe_id(channel_id, "channel")))

    def list(self) -> list[dict]:
        return [d.to_dict() for d in self.channels.order_by("createdAt").limit(200).stream()]
