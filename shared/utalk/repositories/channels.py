"""Channels of a workspace, their sealed credentials, and the global inbound routing table
(provider address -> workspace and channel).

Every change that touches a route goes in one batch or transaction with the channel (and its
secrets), so a route never points at a channel that is gone, and a route is only removed by the
channel it points at.

A Messenger channel's route also names its verify key (`verifyKey`: the hash of its webhook's
verify token, `channels/credentials.verify_key`); `channelRoutes/{verifyKey}` lists the active
channels holding that token (`channels`: "ws/channelId"), kept with the route in the same writes:
the subscription handshake, which names no page, is answered while that list is not empty.
"""
from __future__ import annotations

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from utalk import clients, errors
from utalk.repositories.base import WorkspaceScope, read, safe_id

ROUTES = "channelRoutes"
SECRETS = "channelSecrets"


def route_key(channel_type: str, address: str) -> str:
    return f"{channel_type}:{address}"


def _route_ref(db, channel: dict):
    return db.collection(ROUTES).document(route_key(channel["type"], channel["address"]))


def read_route(key: str) -> dict | None:
    """One read of `channelRoutes/{key}` (the webhooks cache it: channels/routes.py)."""
    if not key or "/" in key:
        return None
    return read(clients.firestore().collection(ROUTES).document(key))


def _member(channel: dict) -> str:
    return f"{channel['workspaceId']}/{channel['id']}"


def _verify(write, db, key: str | None, member: str, join: bool) -> None:
    """Add `member` to (or take it from) the holders of verify key `key`, with `write` (a batch or
    transaction); a list left empty answers no handshake."""
    if key:
        change = firestore.ArrayUnion([member]) if join else firestore.ArrayRemove([member])
        write.set(db.collection(ROUTES).document(key), {"channels": change}, merge=True)


def _taken() -> errors.Conflict:
    return errors.Conflict("This number or Page is already connected to a channel", code="channel_exists")


class ChannelRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.db = self.scope.db
        self.channels = self.scope.collection("channels")
        self.secrets = self.scope.collection(SECRETS)

    def _refs(self, channel_id: str):
        channel_id = safe_id(channel_id, "channel")
        return self.channels.document(channel_id), self.secrets.document(channel_id)

    def _owns(self, route: dict | None, channel_id: str) -> bool:
        return bool(route) and route.get("workspaceId") == self.scope.workspace_id \
            and route.get("channelId") == channel_id

    def create(self, channel: dict, route: dict, secrets: dict) -> None:
        """Channel, its secrets and its route in one batch; a number another channel routes fails
        whole (409) and stores nothing."""
        channel_ref, secrets_ref = self._refs(channel["id"])
        batch = self.db.batch()
        batch.create(_route_ref(self.db, channel), route)
        batch.create(channel_ref, channel)
        batch.set(secrets_ref, secrets)
        _verify(batch, self.db, route.get("verifyKey"), _member(channel), join=True)
        try:
            batch.commit()
        except AlreadyExists:
            raise _taken() from None

    def get(self, channel_id: str) -> dict | None:
        return read(self._refs(channel_id)[0])

    def get_secrets(self, channel_id: str) -> dict | None:
        return read(self._refs(channel_id)[1])

    def get_with_secrets(self, channel_id: str) -> tuple[dict | None, dict | None]:
        """The channel and its sealed record, in one call."""
        refs = self._refs(channel_id)
        found = {snap.reference.path: snap.to_dict() for snap in self.db.get_all(list(refs)) if snap.exists}
        return found.get(refs[0].path), found.get(refs[1].path)

    def list(self) -> list[dict]:
        return [d.to_dict() for d in self.channels.order_by("createdAt").limit(200).stream()]

    def update(self, channel_id: str, fields: dict) -> None:
        self._refs(channel_id)[0].update(fields)

    def update_with_route(self, channel: dict, fields: dict, route_fields: dict) -> None:
        """Update the channel and, when it holds its route, the route's copy of `route_fields`."""
        channel_ref, route_ref = self._refs(channel["id"])[0], _route_ref(self.db, channel)

        @firestore.transactional
        def run(txn):
            if self._owns(read(route_ref, txn), channel["id"]):
                txn.update(route_ref, route_fields)
            txn.update(channel_ref, fields)
        run(self.db.transaction())

    def deny_on_route(self, channel: dict, visitor_id: str, until: float, now: float) -> bool:
        """Name a web visitor in its channel's route as blocked until `until` (epoch seconds): the
        visitor routes read the route anyway (cached), so checking costs the send path no read.
        Entries whose time has passed are dropped in the same write, so the map stays as small as
        the blocks of the last `until - now` seconds. False when this channel does not hold a route."""
        route_ref = _route_ref(self.db, channel)

        @firestore.transactional
        def run(txn) -> bool:
            route = read(route_ref, txn)
            if not self._owns(route, channel["id"]):
                return False
            changes = {f"blockedVisitors.{v}": firestore.DELETE_FIELD
                       for v, at in (route.get("blockedVisitors") or {}).items() if at <= now and v != visitor_id}
            txn.update(route_ref, {**changes, f"blockedVisitors.{visitor_id}": until})
            return True
        return run(self.db.transaction())

    def set_credentials(self, channel: dict, secrets: dict, fields: dict, route_fields: dict) -> None:
        """New sealed credentials, the channel's account of them, and (when this channel holds its
        route) the route's copy of what inbound needs, together."""
        channel_ref, secrets_ref = self._refs(channel["id"])
        route_ref = _route_ref(self.db, channel)

        @firestore.transactional
        def run(txn):
            route = read(route_ref, txn)
            if self._owns(route, channel["id"]):
                txn.update(route_ref, route_fields)
                if route_fields.get("verifyKey", route.get("verifyKey")) != route.get("verifyKey"):
                    _verify(txn, self.db, route.get("verifyKey"), _member(channel), join=False)
                    _verify(txn, self.db, route_fields["verifyKey"], _member(channel), join=True)
            txn.set(secrets_ref, secrets)
            txn.update(channel_ref, fields)
        run(self.db.transaction())

    def claim_route(self, channel: dict, route: dict, fields: dict) -> None:
        """Route the channel's address to it again (409 when another channel has it meanwhile)."""
        batch = self.db.batch()
        batch.create(_route_ref(self.db, channel), route)
        batch.update(self._refs(channel["id"])[0], fields)
        _verify(batch, self.db, route.get("verifyKey"), _member(channel), join=True)
        try:
            batch.commit()
        except AlreadyExists:
            raise _taken() from None

    def release_route(self, channel: dict, fields: dict) -> None:
        """Stop routing the channel's address to it (if it still does) and update the channel."""
        route_ref = _route_ref(self.db, channel)

        @firestore.transactional
        def run(txn):
            route = read(route_ref, txn)
            if self._owns(route, channel["id"]):
                txn.delete(route_ref)
                _verify(txn, self.db, route.get("verifyKey"), _member(channel), join=False)
            txn.update(self._refs(channel["id"])[0], fields)
        run(self.db.transaction())

    def delete(self, channel_id: str) -> bool:
        """Delete the channel, its secrets and its route; False when there is no such channel."""
        channel_ref, secrets_ref = self._refs(channel_id)

        @firestore.transactional
        def run(txn) -> bool:
            channel = read(channel_ref, txn)
            if channel is None:
                return False
            route_ref = _route_ref(self.db, channel)
            route = read(route_ref, txn)
            if self._owns(route, channel_id):
                txn.delete(route_ref)
                _verify(txn, self.db, route.get("verifyKey"), _member(channel), join=False)
            txn.delete(secrets_ref)
            txn.delete(channel_ref)
            return True
        return run(self.db.transaction())

    def move(self, channel_id: str, target: "ChannelRepository", build) -> dict:
        """Transfer: in one transaction, read this channel and its sealed record, let
        `build(channel, record)` give (moved channel, its sealed record, fields left here), point
        the route at the moved channel (a new one in the target workspace), and leave this one
        updated, without secrets. Returns the moved channel."""
        channel_ref, secrets_ref = self._refs(channel_id)

        @firestore.transactional
        def run(txn) -> dict:
            channel, record = read(channel_ref, txn), read(secrets_ref, txn)
            route_ref = _route_ref(self.db, channel) if channel else None
            route = read(route_ref, txn) if route_ref else None
            if channel is None or record is None or not self._owns(route, channel_id):
                raise errors.Conflict("The route's channel or its credentials changed or are missing",
                                      code="route_changed")
            moved, moved_secrets, left = build(channel, record)
            moved_ref, moved_secrets_ref = target._refs(moved["id"])
            txn.update(route_ref, {"workspaceId": target.scope.workspace_id, "channelId": moved["id"]})
            _verify(txn, self.db, route.get("verifyKey"), _member(channel), join=False)
            _verify(txn, self.db, route.get("verifyKey"), _member(moved), join=True)
            txn.create(moved_ref, moved)
            txn.set(moved_secrets_ref, moved_secrets)
            txn.delete(secrets_ref)
            txn.update(channel_ref, left)
            return moved
        return run(self.db.transaction())
