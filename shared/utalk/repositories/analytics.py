"""Analytics storage (docs/analytics.md): once-only event markers, sharded daily counters, the
conversation's `analytics` facts, and the reads a report makes.

A recording is one batch without a read: `create()` of the event's marker, `Increment`s on one
counter shard, and (optionally) the conversation's facts. A marker that exists fails the whole
commit, so a redelivered event changes nothing.
"""
from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

from google.api_core.exceptions import AlreadyExists, Conflict, NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from utalk.repositories.base import WorkspaceScope

SHARDS = 16                 # counter documents per day x channel for events without an agent
MARKER_TTL = timedelta(days=30)   # `expireAt`: the analyticsEvents TTL policy deletes markers after this
NONE = "-"                  # the channel / agent part of a counter id when there is none
SHARD, ROLLUP = "shard", "rollup"   # `kind` of a counter document: written by events, or by compaction


DIMENSIONS = ("day", "channel", "agent", "kind")


def fold(into: dict, row: dict, top: bool = True) -> None:
    """Sum a counter document into `into` (numbers add, maps recurse; its dimensions are skipped)."""
    for key, value in row.items():
        if top and key in DIMENSIONS:
            continue
        if isinstance(value, dict):
            fold(into.setdefault(key, {}), value, False)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value


def nested(flat: dict) -> dict:
    """{"esc.keyword": 1} -> {"esc": {"keyword": 1}}: set(merge=True) merges maps, it does not
    read dotted keys as paths."""
    out: dict = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


class AnalyticsRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.daily = self.scope.collection("analyticsDaily")
        self.markers = self.scope.collection("analyticsEvents")
        self.conversations = self.scope.collection("conversations")

    def record(self, key: str, day: str, channel: str | None, agent: str | None, counts: dict,
               conversation_id: str | None = None, facts: dict | None = None) -> bool:
        """Count event `key` once: False when it was already counted (or its conversation is gone)."""
        return self.record_days(key, [(day, counts)], channel, agent, conversation_id, facts)

    def record_days(self, key: str, days: list[tuple[str, dict]], channel: str | None, agent: str | None,
                    conversation_id: str | None = None, facts: dict | None = None) -> bool:
        """`record` of an event whose counts fall on several days (a time span cut at midnights),
        all in the one batch with the one marker."""
        shard = 0 if agent else random.randrange(SHARDS)   # a person acts far below 1 write/s
        batch = self.scope.db.batch()
        batch.create(self.markers.document(hashlib.sha256(key.encode()).hexdigest()),
                     {"key": key[:500], "at": firestore.SERVER_TIMESTAMP,
                      "expireAt": datetime.now(timezone.utc) + MARKER_TTL})
        for day, counts in days:
            counter = self.daily.document(f"{day}~{channel or NONE}~{agent or NONE}~{shard}")
            batch.set(counter, {"day": day, "channel": channel or "", "agent": agent or "", "kind": SHARD,
                                **nested({k: firestore.Increment(v) for k, v in counts.items()})}, merge=True)
        if conversation_id and facts:
            batch.update(self.conversations.document(conversation_id),
                         {f"analytics.{k}": v for k, v in facts.items()})
        try:
            batch.commit()
        except (AlreadyExists, Conflict):
            return False
        except NotFound:       # the conversation was deleted meanwhile: nothing to account for
            return False
        return True

    def start_episode(self, conversation_id: str, episode: int, facts: dict) -> None:
        """A reopened conversation's analytics start again (the earlier episode stays counted)."""
        try:
            self.conversations.document(conversation_id).update({"analytics": {"episode": episode, **facts}})
        except NotFound:
            pass

    def counters(self, first_day: str, last_day: str, channel: str | None, agent: str | None) -> list[dict]:
        """Every counter shard of the days (inclusive), narrowed by channel / agent equality."""
        query = self.daily.where(filter=FieldFilter("day", ">=", first_day)) \
            .where(filter=FieldFilter("day", "<=", last_day))
        if channel:
            query = query.where(filter=FieldFilter("channel", "==", channel))
        if agent:
            query = query.where(filter=FieldFilter("agent", "==", agent))
        return [snap.to_dict() for snap in query.stream()]

    def compact(self, day: str, channel: str, agent: str) -> int:
        """Fold the shards of one day x channel x agent into its rollup document, in one transaction
        that reads them and deletes what it folded, so every count is in exactly one of them: an
        event counted meanwhile either landed before the read (folded) or waits for the commit
        and then creates a fresh shard, which reports read beside the rollup (and the next run
        folds). Safe to repeat: a second run finds no shards. Returns the shards folded."""
        query = self.daily.where(filter=FieldFilter("day", "==", day)) \
            .where(filter=FieldFilter("channel", "==", channel)).where(filter=FieldFilter("agent", "==", agent))
        rollup_ref = self.daily.document(f"{day}~{channel or NONE}~{agent or NONE}~r")

        @firestore.transactional
        def run(txn) -> int:
            snaps = list(query.stream(transaction=txn))
            shards = [s for s in snaps if s.reference.id != rollup_ref.id]
            if not shards:
                return 0
            total: dict = {}
            for snap in snaps:
                fold(total, snap.to_dict())
            txn.set(rollup_ref, {"day": day, "channel": channel, "agent": agent, "kind": ROLLUP, **total})
            for snap in shards:
                txn.delete(snap.reference)
            return len(shards)

        return run(self.scope.db.transaction())

    def present(self) -> list[str]:
        """Ids of the workspace's agents not offline (their capacity time is running)."""
        query = self.scope.collection("agents").where(filter=FieldFilter("status", "!=", "offline")).select([])
        return [snap.id for snap in query.stream()]

    def held(self, agent_ids: list[str]) -> list[dict]:
        """The conversations the agents took and still hold (`analytics.heldBy`, set on acceptance
        and deleted when the hold is counted; `heldUntil` at or after `acceptedAt` and the status
        double-check it): at most their capacity each, so a handful of reads."""
        out = []
        for i in range(0, len(agent_ids), 30):          # `in` takes at most 30 values
            query = self.conversations.where(filter=FieldFilter("analytics.heldBy", "in", agent_ids[i:i + 30])) \
                .select(["analytics", "channel", "status"])
            out += [snap.to_dict() for snap in query.stream()]
        return [c for c in out if c.get("status") != "closed" and (c.get("analytics") or {}).get("acceptedAt")
                is not None and (c["analytics"].get("heldUntil") or 0) < c["analytics"]["acceptedAt"]]

    def customer_messages(self, start: datetime, end: datetime, channel: str | None) -> int:
        """Customer messages stored in [start, end): a count() aggregation over the messages the
        webhook writes anyway (index: messages collection group workspaceId, senderType, channel,
        createdAt), costing one read per 1,000 index entries, no counter on the hot path."""
        query = self.scope.db.collection_group("messages") \
            .where(filter=FieldFilter("workspaceId", "==", self.scope.workspace_id)) \
            .where(filter=FieldFilter("senderType", "==", "customer"))
        if channel:
            query = query.where(filter=FieldFilter("channel", "==", channel))
        query = query.where(filter=FieldFilter("createdAt", ">=", start)) \
            .where(filter=FieldFilter("createdAt", "<", end))
        result = query.count().get()
        return int(result[0][0].value)
