"""Media records of one workspace and its storage usage total.

The usage total (the 10 GB quota) is kept in `workspaces/{ws}/mediaUsage/{shard}` documents,
each a running `bytes` sum changed only by field transforms (`Increment`), never read-modify-write.
A media's bytes always go to the shard its id hashes to, so a deletion subtracts from the same
shard. With `USAGE_SHARDS` shards a workspace sustains that many quota writes per second on
production Firestore (about one write per second per document): 10 uploads/min per user is
1/6 per second, so 20 shards carry ~120 agents uploading at the limit at once. The total is one
`sum()` aggregation over the shards: one query, billed as one read.
"""
from __future__ import annotations

import zlib

from google.api_core.exceptions import FailedPrecondition, NotFound
from google.cloud import firestore

from utalk.repositories.base import WorkspaceScope, read, safe_id

USAGE_SHARDS = 20


class Stale(Exception):
    """The record changed (or vanished) since it was read: another request got there first."""


class MediaRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.media = self.scope.collection("media")
        self.usage = self.scope.collection("mediaUsage")

    def ref(self, media_id: str):
        return self.media.document(safe_id(media_id, "media"))

    def get(self, media_id: str) -> dict | None:
        return read(self.ref(media_id))

    def get_many(self, media_ids: list[str]) -> dict[str, dict]:
        """Records by id in one round trip (missing ids are absent)."""
        snaps = self.scope.db.get_all([self.ref(m) for m in media_ids])
        return {s.id: s.to_dict() for s in snaps if s.exists}

    def snapshot(self, media_id: str):
        return self.ref(media_id).get()

    def create(self, record: dict) -> None:
        self.ref(record["id"]).create(record)

    def _charge(self, batch, media_id: str, delta: int) -> None:
        shard = self.usage.document(f"s{zlib.crc32(media_id.encode()) % USAGE_SHARDS:02d}")
        batch.set(shard, {"bytes": firestore.Increment(delta)}, merge=True)

    def create_counted(self, records: list[dict]) -> None:
        """Create records and add their `quotaBytes` to the usage total, all or nothing."""
        batch = self.scope.db.batch()
        for record in records:
            batch.create(self.ref(record["id"]), record)
            self._charge(batch, record["id"], record["quotaBytes"])
        batch.commit()

    def complete_counted(self, snap, fields: dict, quota_bytes: int) -> None:
        """Turn a pending record (as read in `snap`) ready and count its bytes, once: the write
        carries the read's update time, so a concurrent completion fails with Stale."""
        batch = self.scope.db.batch()
        batch.update(snap.reference, {**fields, "quotaBytes": quota_bytes},
                     option=self.scope.db.write_option(last_update_time=snap.update_time))
        self._charge(batch, snap.id, quota_bytes)
        try:
            batch.commit()
        except (FailedPrecondition, NotFound):
            raise Stale(snap.id) from None

    def delete_counted(self, records: list[dict]) -> None:
        """Delete records and subtract what they counted, once: each delete requires the record to
        exist, so a repeated deletion (a retried job) fails whole and subtracts nothing."""
        batch = self.scope.db.batch()
        for record in records:
            batch.delete(self.ref(record["id"]), option=self.scope.db.write_option(exists=True))
            if record.get("quotaBytes"):
                self._charge(batch, record["id"], -int(record["quotaBytes"]))
        try:
            batch.commit()
        except (FailedPrecondition, NotFound):
            raise Stale(",".join(r["id"] for r in records)) from None

    def usage_bytes(self) -> int:
        """The workspace's stored bytes: one sum() aggregation over the usage shards."""
        result = self.usage.sum("bytes", alias="total").get()
        value = result[0][0].value if result and result[0] else 0
        return int(value or 0)

    def count_in_conversation(self, conversation_id: str) -> int:
        """Files of one conversation (count() aggregation: no document is read)."""
        query = self.media.where(filter=firestore.FieldFilter("conversationId", "==", conversation_id))
        result = query.count(alias="n").get()
        return int(result[0][0].value) if result and result[0] else 0

    def older_than(self, field: str, cutoff, limit: int) -> list[dict]:
        """Records whose `field` is before `cutoff`, oldest first (a single-field index, no composite)."""
        query = self.media.where(filter=firestore.FieldFilter(field, "<", cutoff)).order_by(field).limit(limit)
        return [snap.to_dict() for snap in query.stream()]
