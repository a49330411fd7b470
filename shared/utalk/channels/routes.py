"""What a provider webhook needs before it knows the workspace: the route of the address it was
sent to (or the channel its callback URL names) with that channel's opened credentials, cached
per instance.

Routes and credentials change when an admin connects, rotates, deactivates or deletes a channel
(or an operator transfers one), almost never otherwise, and every webhook needs one. So each
instance keeps the entries it loaded for UTALK_ROUTE_CACHE_SECONDS (default 60; bounded, dropped
whole when full): the steady state reads nothing and decrypts nothing. A miss costs two reads (the
route, then the channel's sealed record) and one unseal (two AES-GCM decryptions). Unknown
addresses are not cached, so a channel connected a second ago works at once.

What the TTL means: after a change, an instance that holds the entry acts on the old one for up to
the TTL. A rotated-away token still verifies there; a deactivated, deleted or transferred channel
still routes there (to the workspace that had it a moment ago). A webhook whose signature fails on
an entry older than REFRESH_SECONDS reloads it once (`verified`), so a newly rotated token works
at once everywhere, and that instance then refuses the old token; a forged-signature flood costs
at most one reload per address per second per instance.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from utalk import errors
from utalk.channels.credentials import Credentials, opened
from utalk.repositories.channels import ChannelRepository, read_route, route_key

TTL_SECONDS = float(os.environ.get("UTALK_ROUTE_CACHE_SECONDS", "60"))
REFRESH_SECONDS = 1.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Entry:
    key: tuple
    doc: dict                          # the route (by address) or the channel (by id)
    credentials: Credentials | None    # None: missing or not opening; every check then fails
    loaded: float


_entries: dict[tuple, Entry] = {}
_lock = threading.Lock()


def by_address(channel_type: str, address: str) -> Entry | None:
    """The route of an inbound address with its channel's credentials; None when unrouted."""
    return _get(("address", route_key(channel_type, address)))


def by_channel(workspace_id: str, channel_id: str) -> Entry | None:
    """A channel (named by a status callback URL) with its credentials; None when there is none."""
    return _get(("channel", workspace_id, channel_id))


def verified(entry: Entry, check: Callable[[Credentials], bool], may_reload: bool = True) -> Entry | None:
    """`entry` when its credentials pass `check`; else, if it is old enough to reload, the reloaded
    entry when that passes; else None."""
    if entry.credentials is not None and check(entry.credentials):
        return entry
    if not may_reload or time.monotonic() - entry.loaded < REFRESH_SECONDS:
        return None
    fresh = _load(entry.key)
    return fresh if fresh is not None and fresh.credentials is not None and check(fresh.credentials) else None


def forget() -> None:
    """Drop every entry (what the TTL does to each, all at once)."""
    with _lock:
        _entries.clear()


def _get(key: tuple) -> Entry | None:
    hit = _entries.get(key)
    if hit is not None and time.monotonic() - hit.loaded < TTL_SECONDS:
        return hit
    return _load(key)


def _load(key: tuple) -> Entry | None:
    loaded = time.monotonic()
    if key[0] == "address":
        doc = read_route(key[1])
        if doc is None:
            with _lock:
                _entries.pop(key, None)
            return None
        ws, channel_id = doc["workspaceId"], doc["channelId"]
        record = ChannelRepository(ws).get_secrets(channel_id)
    else:
        _, ws, channel_id = key
        try:
            doc, record = ChannelRepository(ws).get_with_secrets(channel_id)
        except (ValueError, errors.NotFound):  # ids from a URL that name no document: no such channel
            return None
        if doc is None:
            return None
    entry = Entry(key, doc, opened(ws, channel_id, doc.get("provider"), record), loaded)
    if TTL_SECONDS > 0:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:   # bound memory: drop everything, it refills on demand
                _entries.clear()
            _entries[key] = entry
    return entry
