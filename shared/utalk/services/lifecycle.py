"""A conversation's lifecycle around the inbound path: the initial state a crash can lose, a
customer reopening a closed conversation, and closing idle ones (the auto-close job).

The inbound webhook never reads (DESIGN.md, hot paths), so it can tell neither a closed
conversation nor a missing state. The bot dispatcher reads the conversation for every inbound
message anyway and settles both here, each in a transaction that re-checks the fresh document,
so a redelivered dispatch changes nothing twice; the events of a change carry ids derived from
what caused it, so publishing them again (a retry after a crash) shows nothing twice either.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from google.cloud import firestore

from utalk import clock, errors, events, jobs, logs, pubsub
from utalk.models.conversations import Customer
from utalk.models.events import ConversationNew, ConversationUpdated
from utalk.repositories import sweeps
from utalk.repositories.base import cursor_id, cursor_key, cursor_time, decode_cursor, encode_cursor
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.messages import MessageRepository

log = logs.get("lifecycle")
_NS = uuid.UUID("3d0f8a2e-5b7c-4e61-9f1a-7c2b8d4e6a93")
DEFAULT_AUTO_CLOSE_DAYS = 30
WORKSPACES_PER_READ = 20
# What the inbound store writes after a conversation's first message (services/inbound.py).
INITIAL_STATE = {"status": "open", "botEnabled": True, "assignedAgent": None}


def _event_id(*parts: str) -> str:
    return f"evt_{uuid.uuid5(_NS, ':'.join(parts))}"


def settle(workspace_id: str, conv: dict, message_id: str, cfg: dict) -> dict:
    """The conversation as the dispatcher must see it for inbound message `message_id`: its
    initial state written if a crash lost it, reopened if the message came after a close."""
    if "status" not in conv:
        conv = repair(workspace_id, conv)
    if conv.get("status") == "closed":
        conv = reopen(workspace_id, conv, message_id, cfg)
    elif conv.get("reopenedBy") == message_id:
        _announce_reopened(workspace_id, conv, message_id)   # a redelivery: the first may have died first
    return conv


# -- the initial state -----------------------------------------------------------------------------
def repair(workspace_id: str, conv: dict) -> dict:
    """Write the initial state of a conversation that lacks it (stored message, conversation merged,
    then a crash before the follow-up write), only the fields missing; announce the conversation."""
    repo = ConversationRepository(workspace_id)
    first = _first_message_at(workspace_id, conv["id"])

    def decide(current: dict) -> dict:
        if "status" in current:
            return {}
        wanted = {**INITIAL_STATE, "createdAt": first or firestore.SERVER_TIMESTAMP}
        # The ids too: the lost write may have been the only one to carry them (`current` names
        # the document whether or not it stores them: repositories/conversations._data).
        return {**{k: v for k, v in wanted.items() if k not in current}, "id": conv["id"], "workspaceId": workspace_id}

    before, changes = repo.set_status(conv["id"], decide)
    if changes:
        log.warning("conversation %s lacked its initial state: repaired", conv["id"],
                    extra={"workspaceId": workspace_id, "repaired": sorted(changes)})
        customer = before.get("customer")
        pubsub.wait([events.publish("conversation:new", workspace_id, ConversationNew(
            conversationId=conv["id"], channel=before.get("channel") or "whatsapp", channelId=before.get("channelId"),
            customer=Customer.model_validate(customer) if customer else None),
            conversation_id=conv["id"], event_id=_event_id(conv["id"], "repaired"))])
    return {**before, **changes}


def _first_message_at(workspace_id: str, conversation_id: str) -> datetime | None:
    col = MessageRepository(workspace_id).ref(conversation_id, "x").parent
    first = list(col.order_by("createdAt").limit(1).select(["createdAt"]).stream())
    return first[0].get("createdAt") if first else None


# -- a customer writes to a closed conversation ------------------------------------------------------
def reopen(workspace_id: str, conv: dict, message_id: str, cfg: dict) -> dict:
    """Open the conversation again for a new cycle (bot on if the workspace's bot is), unless the
    message was stored before the conversation was closed (`closedAt`; a late delivery)."""
    message = MessageRepository(workspace_id).get(conv["id"], message_id)
    if message is None or message.get("direction") != "inbound":
        return conv
    bot_on = bool((cfg.get("bot") or {}).get("enabled", True))

    def decide(current: dict) -> dict:
        if current.get("status") != "closed":
            return {}
        # Conversations closed before closedAt existed: the close was their last update.
        closed_at = current.get("closedAt") or current.get("updatedAt")
        if closed_at is not None and message.get("createdAt") is not None and message["createdAt"] < closed_at:
            return {}
        return {"status": "open", "botEnabled": bot_on, "assignedAgent": None, "escalationId": None, "escalation": None,
                "reopenedAt": firestore.SERVER_TIMESTAMP, "reopenedBy": message_id}

    before, changes = ConversationRepository(workspace_id).set_status(conv["id"], decide)
    conv = {**before, **changes}
    if changes:
        _announce_reopened(workspace_id, conv, message_id)
    return conv


def _announce_reopened(workspace_id: str, conv: dict, message_id: str) -> None:
    pubsub.wait([events.publish("conversation:updated", workspace_id, ConversationUpdated(
        conversationId=conv["id"], reason="reopened", status="open", assignedAgent=None,
        botEnabled=bool(conv.get("botEnabled"))), conversation_id=conv["id"],
        event_id=_event_id(message_id, "reopened"))])


# -- idle conversations close (the conversations_autoclose job) ------------------------------------------
def auto_close_days(value) -> int:
    """A workspace's `settings.autoCloseDays`; anything but a positive number is the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_AUTO_CLOSE_DAYS
    return days if days > 0 else DEFAULT_AUTO_CLOSE_DAYS


def _idle_everywhere(cursor: str | None, size: int) -> jobs.Page:
    """Step 1: every workspace's conversations idle longer than the default (one collection-group
    query), each closed if idle past its own workspace's days (one read of those per page)."""
    now = clock.now()
    rows, after = sweeps.idle_conversations(now - timedelta(days=DEFAULT_AUTO_CLOSE_DAYS), cursor, size)
    days = sweeps.workspace_settings_of([ws for ws, _, _ in rows], "autoCloseDays")
    items = []
    for ws, conv_id, last in rows:
        cutoff = now - timedelta(days=auto_close_days(days.get(ws)))
        if last < cutoff:     # a workspace that keeps them longer: not yet
            items.append((ws, conv_id, cutoff))
    return jobs.Page(items, after)


def _maybe(convert):
    return lambda value: None if value is None else convert(value)


def _idle_position(value) -> list:
    """Where a page of one workspace's idle conversations stopped: [lastMessageAt iso, id]."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("not an idle position")
    cursor_time(value[0])
    return [value[0], cursor_id(value[1])]


def _idle_in_sooner_workspaces(cursor: str | None, size: int) -> jobs.Page:
    """Step 2: the few workspaces that close sooner than the default (found by their setting),
    each queried for what it closes between its own days and the default (older: step 1's).
    Cursor: [the workspaces done, where inside the next one a full page stopped]."""
    now = clock.now()
    default_cutoff = now - timedelta(days=DEFAULT_AUTO_CLOSE_DAYS)
    done, inside = decode_cursor(cursor, _maybe(cursor_key), _maybe(_idle_position)) if cursor else (None, None)
    items: list = []
    while True:
        workspaces, more = sweeps.workspaces_with_setting_below("autoCloseDays", DEFAULT_AUTO_CLOSE_DAYS, done,
                                                                WORKSPACES_PER_READ)
        for ws, value in workspaces:
            cutoff = now - timedelta(days=auto_close_days(value))
            rows, inside = ConversationRepository(ws).idle(cutoff, default_cutoff, inside, size - len(items))
            items += [(ws, conv_id, cutoff) for conv_id, _ in rows]
            if inside is not None:
                return jobs.Page(items, encode_cursor([done, inside]))
            done = encode_cursor([value, ws])
            if len(items) >= size:
                return jobs.Page(items, encode_cursor([done, None]))
        if more is None:
            return jobs.Page(items, None)


def _close(item: tuple[str, str, datetime], run_id: str) -> bool:
    return auto_close(*item)


# The conversations_autoclose job's sweep (functions/job_autoclose.py).
pages, each = jobs.phases((_idle_everywhere, _close), (_idle_in_sooner_workspaces, _close))


def auto_close(workspace_id: str, conversation_id: str, cutoff: datetime) -> bool:
    """Close a conversation still idle since before `cutoff` (a message since keeps it open), its
    escalation completed (`auto_closed`) and the holder's slot freed, in one transaction; the
    events after. Run twice, the second finds it closed: the effect of once."""
    from utalk.repositories.escalations import EscalationRepository
    from utalk.services import escalation

    def still_idle(conv: dict) -> bool:
        last = conv.get("lastMessageAt")
        return conv.get("status") != "closed" and last is not None and last < cutoff

    try:
        outcome = EscalationRepository(workspace_id).release(conversation_id, "auto_closed", status="closed",
                                                             check=still_idle)
    except errors.NotFound:
        return False        # deleted meanwhile
    if not outcome.changed:
        return False
    from utalk.services import analytics

    closed = ConversationRepository(workspace_id).get(conversation_id) or {}   # closedAt as the server stamped it
    analytics.conversation_closed(workspace_id, {**outcome.extra["before"], "id": conversation_id},
                                  closed.get("closedAt") or clock.now())
    holder = outcome.extra["before"].get("assignedAgent")
    pubsub.wait([events.publish("conversation:updated", workspace_id, ConversationUpdated(
        conversationId=conversation_id, reason="auto_closed", status="closed"),
        conversation_id=conversation_id, agent_id=holder,
        event_id=_event_id(conversation_id, "auto_closed", str(outcome.conversation.get("lastMessageAt"))))])
    if outcome.escalation or outcome.previous_agent_id:
        escalation.after_release(workspace_id, conversation_id, outcome, None, with_status=False)
    return True
