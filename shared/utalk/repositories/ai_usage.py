"""A workspace's AI usage: request windows (`aiUsage/{window}-{shard}`) and call leases (`aiLeases/{slot}`).

Windows: the runs admitted in one window, counted by blind `Increment`s whose results say whether
the limit was passed (raw_writes returns transform results: no read needed to know the count).
A shard's document is read first and only written when it has room, so runs over the limit only
read: writes to a shard stay at most its capacity per window whatever the arrival rate.
`expireAt` lets a Firestore TTL policy drop old windows.
"""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone

from google.cloud import firestore

from utalk.repositories.base import WorkspaceScope


def spread(key: str, buckets: int) -> int:
    """A stable bucket in [0, buckets) for `key` (a message id): shards and delay offsets."""
    return zlib.crc32(key.encode()) % buckets


class AiUsage:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.windows = self.scope.collection("aiUsage")
        self.leases = self.scope.collection("aiLeases")

    def lease_slots(self, count: int) -> list:
        return [self.leases.document(str(i)) for i in range(count)]

    def admit(self, caps: list[int], window: int, window_seconds: int, key: str) -> bool:
        """Count one run in `window` if a shard has room (the key's own shard first)."""
        refs = [self.windows.document(f"{window}-{i}") for i in range(len(caps))]
        first = spread(key, len(caps))
        counts = {first: _count(refs[first].get(["count"]))}
        if counts[first] >= caps[first] and len(caps) > 1:   # full: the emptiest other shard
            shard_of = {r.id: i for i, r in enumerate(refs)}
            for snap in self.scope.db.get_all([r for i, r in enumerate(refs) if i != first], field_paths=["count"]):
                counts[shard_of[snap.id]] = _count(snap)
        room = sorted((i for i, n in counts.items() if n < caps[i]), key=lambda i: (i != first, counts[i] - caps[i]))
        expire = datetime.fromtimestamp((window + 2) * window_seconds, timezone.utc) + timedelta(days=1)
        for shard in room:
            if self._increment(refs[shard], expire) <= caps[shard]:
                return True
        return False

    def _increment(self, ref, expire: datetime) -> int:
        from utalk.repositories.raw_writes import Batch
        from utalk.repositories.transforms import transform_result

        fields = {"count": firestore.Increment(1), "expireAt": expire}
        [result] = Batch(self.scope.db).set(ref, fields, merge=True).commit()
        return transform_result(result, fields, "count")


def _count(snap) -> int:
    return int((snap.to_dict() or {}).get("count", 0)) if snap.exists else 0
