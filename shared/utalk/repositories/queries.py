"""Every composite-index-relevant Firestore query of the repositories, declared once.

Repositories build their queries from these specs, and a unit test checks that
`firestore.indexes.json` holds an index for each, so a new filter cannot ship without its index.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuerySpec:
    collection: str                           # collection id (collection group in the index file)
    filters: tuple[str, ...]                  # equality (or `in`) filters the query may combine
    order: tuple[tuple[str, str], ...]        # (field, ASCENDING|DESCENDING), then __name__
    tag: str = ""                             # what its cursors start with (lists of one collection)
    scope: str = "COLLECTION"                 # COLLECTION_GROUP: a platform job's query over every workspace

    def index_fields(self, field: str) -> list[tuple[str, str]]:
        """The composite index one equality filter needs (Firestore merges them for combinations)."""
        return [(field, "ASCENDING"), *self.order]


# The conversation list (repositories/conversations.py): assignedAgent == null is "unassigned";
# `escalation.status in [pending, assigned]` is "waiting" (escalated, not yet accepted).
CONVERSATIONS_BY_ACTIVITY = QuerySpec(
    collection="conversations",
    filters=("status", "channel", "assignedAgent", "botEnabled", "escalation.status"),
    order=(("lastMessageAt", "DESCENDING"),),
)

# Customer lookup by prefix: a range on the field it is ordered by, with the list's filters.
CUSTOMER_LOOKUPS = {
    field: QuerySpec(collection="conversations", filters=CONVERSATIONS_BY_ACTIVITY.filters,
                     order=((field, "ASCENDING"),), tag=tag)
    for field, tag in (("customer.address", "address"), ("customer.nameKey", "name"))
}

# The waiting queue of escalations, oldest first (repositories/escalations.py).
ESCALATIONS_WAITING = QuerySpec(
    collection="escalations",
    filters=("status",),
    order=(("createdAt", "ASCENDING"),),
)

# The inbox's escalation list, oldest first, by status, reason and agent (repositories/inbox.py);
# `since` is a range on createdAt, the order field, so it needs no other index.
ESCALATIONS_LIST = QuerySpec(
    collection="escalations",
    filters=("status", "reason", "toAgentId"),
    order=(("createdAt", "ASCENDING"),),
)

# The admin's user list, filtered by role or status, ordered by email (repositories/users.py).
USERS_BY_EMAIL = QuerySpec(
    collection="users",
    filters=("role", "status"),
    order=(("email", "ASCENDING"),),
)

# Offers still standing past their expiry, over every workspace (repositories/sweeps.py).
ESCALATIONS_LAPSED = QuerySpec(
    collection="escalations",
    filters=("status",),
    order=(("offerExpiresAt", "ASCENDING"),),
    scope="COLLECTION_GROUP",
)

# Conversations not closed, idle the longest first: the auto-close job over every workspace
# (repositories/sweeps.py) and within one workspace that closes sooner (repositories/conversations.py).
CONVERSATIONS_IDLE = QuerySpec(
    collection="conversations",
    filters=("status",),
    order=(("lastMessageAt", "ASCENDING"),),
    scope="COLLECTION_GROUP",
)
CONVERSATIONS_IDLE_IN_WORKSPACE = QuerySpec(
    collection="conversations",
    filters=("status",),
    order=(("lastMessageAt", "ASCENDING"),),
)

# A conversation's outbound messages still below a status, sent at or before a watermark, oldest
# first (repositories/messages.py `awaiting`: Messenger's delivery and read watermarks). `status`
# is an `in` filter, `sentAt` a range on the order field: one composite index serves both.
MESSAGES_AWAITING = QuerySpec(
    collection="messages",
    filters=("status",),
    order=(("sentAt", "ASCENDING"),),
)

# Analytics counter shards of finished days, over every workspace: the compaction job
# (repositories/sweeps.py analytics_shards; docs/analytics.md).
ANALYTICS_SHARDS = QuerySpec(
    collection="analyticsDaily",
    filters=("kind",),
    order=(("day", "ASCENDING"),),
    scope="COLLECTION_GROUP",
)

# Messages are listed by createdAt alone (single-field index, automatic), so no composite spec.
# Equality-only queries (refresh-token families, online agents, the agents' roster ordered by id)
# merge single-field indexes.
ALL = (CONVERSATIONS_BY_ACTIVITY, *CUSTOMER_LOOKUPS.values(), ESCALATIONS_WAITING, ESCALATIONS_LIST, USERS_BY_EMAIL,
       ESCALATIONS_LAPSED, CONVERSATIONS_IDLE, CONVERSATIONS_IDLE_IN_WORKSPACE, MESSAGES_AWAITING, ANALYTICS_SHARDS)
