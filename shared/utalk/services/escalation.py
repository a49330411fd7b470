"""Escalation use cases: start (keyword, intent, timeout, error, manual), accept, reject, manual
assignment, return-to-bot and completion, each followed by its realtime events.

Ids are derived from the trigger (`esc_` + uuid5 of conversation and trigger), so a redelivered
bot run or timeout task finds its escalation instead of creating a second.
"""
from __future__ import annotations

import uuid

from utalk import events, logs, pubsub
from utalk.auth.tokens import Principal
from utalk.models.bot import BotResumedPayload
from utalk.models.escalations import (Escalation, EscalationAcceptedPayload, EscalationStartedPayload,
                                      EscalationSummary)
from utalk.models.events import ConversationUpdated
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.escalations import EscalationRepository, Outcome
from utalk.repositories.messages import MessageRepository
from utalk.repositories.base import safe_id
from utalk.services import analytics, assignment
from utalk.services.conversations import restricted_to
from utalk.text import normalise_skills

log = logs.get("escalation")
_NS = uuid.UUID("6f1c1c52-4d7e-4a55-9a8e-6b2f0e0f4b11")


def escalation_id(conversation_id: str, trigger: str) -> str:
    return f"esc_{uuid.uuid5(_NS, f'{conversation_id}:{trigger}')}"


def to_escalation(stored: dict) -> Escalation:
    return Escalation(**stored)


def start(workspace_id: str, conversation_id: str, *, reason: str, trigger: str, detail: str | None = None,
          from_type: str = "bot", from_id: str | None = None, skills=(),
          visible_to: str | None = None) -> tuple[dict, bool]:
    """Escalate (idempotent per trigger); returns (escalation, created). `visible_to`: the agent
    whose sight the request is limited to (services.conversations.restricted_to)."""
    repo = EscalationRepository(workspace_id)
    record = {"id": escalation_id(conversation_id, trigger), "workspaceId": workspace_id,
              "conversationId": conversation_id, "reason": reason, "detail": detail, "trigger": trigger,
              "fromType": from_type, "fromId": from_id, "skills": normalise_skills(skills)}
    outcome = repo.start(record, visible_to)
    esc = outcome.escalation
    if outcome.created:
        analytics.escalation_started(workspace_id, outcome.conversation, esc["id"])
        summary = EscalationSummary.of(esc)
        pubsub.wait([
            events.publish("escalation:started", workspace_id,
                           EscalationStartedPayload(escalationId=esc["id"], conversationId=conversation_id,
                                                    reason=reason, detail=detail, escalation=summary),
                           conversation_id=conversation_id),
            events.publish("conversation:updated", workspace_id,
                           ConversationUpdated(conversationId=conversation_id, reason="bot", status="escalated",
                                               botEnabled=False, escalationId=esc["id"], escalation=summary),
                           conversation_id=conversation_id),
        ])
    if esc.get("status") == "pending":
        # Also on a duplicate: the first delivery may have died between its commit and this line.
        assignment.request(workspace_id, esc["id"])
    return esc, outcome.created


def escalate_manually(principal: Principal, conversation_id: str, reason: str | None, skills) -> dict:
    conversation_id = safe_id(conversation_id, "conversation")
    # One manual escalation per conversation episode: while one is active, asking again returns it.
    trigger = f"manual:{uuid.uuid4()}"
    esc, created = start(principal.workspace_id, conversation_id, reason="manual", trigger=trigger,
                         detail=reason, from_type="agent", from_id=principal.user_id, skills=skills,
                         visible_to=restricted_to(principal))
    stored = EscalationRepository(principal.workspace_id).get(esc["id"]) or esc
    return {"escalation": to_escalation(stored).model_dump(mode="json"), "created": created}


def accept(principal: Principal, escalation_id_: str) -> Escalation:
    repo = EscalationRepository(principal.workspace_id)
    outcome = repo.accept(safe_id(escalation_id_, "escalation"), principal.user_id)
    esc = outcome.escalation
    stored = repo.get(esc["id"]) or esc
    if outcome.changed:
        analytics.accepted(principal.workspace_id, stored)
        pubsub.wait([events.publish(
            "escalation:accepted", principal.workspace_id,
            EscalationAcceptedPayload(escalationId=esc["id"], conversationId=esc["conversationId"],
                                      agentId=principal.user_id),
            conversation_id=esc["conversationId"], agent_id=principal.user_id)])
    return to_escalation(stored)


def reject(principal: Principal, escalation_id_: str, reason: str | None) -> Escalation:
    repo = EscalationRepository(principal.workspace_id)
    outcome = repo.reject(safe_id(escalation_id_, "escalation"), principal.user_id, reason)
    esc = outcome.escalation
    if outcome.changed:
        analytics.rejected(principal.workspace_id, esc, principal.user_id)
        assignment.back_to_queue(principal.workspace_id, esc, principal.user_id)   # next agent, freed slot
    return to_escalation(repo.get(esc["id"]) or esc)


def assign(principal: Principal, conversation_id: str, agent_id: str) -> Escalation:
    repo = EscalationRepository(principal.workspace_id)
    conversation_id = safe_id(conversation_id, "conversation")
    record = {"id": escalation_id(conversation_id, f"assign:{uuid.uuid4()}"),
              "workspaceId": principal.workspace_id, "conversationId": conversation_id, "reason": "manual",
              "detail": None, "trigger": f"assign:{principal.user_id}", "fromType": "agent",
              "fromId": principal.user_id, "skills": []}
    outcome = repo.assign(conversation_id, agent_id, principal, record, restricted_to(principal))
    esc = outcome.escalation
    stored = repo.get(esc["id"]) or esc
    if outcome.changed:
        previous = outcome.previous_agent_id
        if previous and previous != agent_id:      # transferred: the previous holder's hold ends now
            analytics.hold_ended(principal.workspace_id, {**(outcome.conversation or {}), "id": conversation_id},
                                 stored.get("assignedAt"), agent_id=previous)
        if stored.get("status") == "accepted":     # taken for themselves
            analytics.accepted(principal.workspace_id, stored)
        else:
            analytics.offered(principal.workspace_id, stored, agent_id, (outcome.conversation or {}).get("channel"))
        if outcome.created:
            analytics.escalation_started(principal.workspace_id, outcome.conversation, esc["id"])
            pubsub.wait([events.publish("escalation:started", principal.workspace_id,
                                        EscalationStartedPayload(escalationId=esc["id"],
                                                                 conversationId=conversation_id, reason="manual",
                                                                 escalation=EscalationSummary.of(esc)),
                                        conversation_id=conversation_id)])
        assignment.announce_assigned(principal.workspace_id, esc, agent_id, outcome.previous_agent_id)
        if outcome.freed_slot:
            assignment.request(principal.workspace_id)
    return to_escalation(stored)


def after_release(workspace_id: str, conversation_id: str, outcome: Outcome, by: str | None,
                  with_status: bool = True) -> None:
    """The events of a release that changed something (`EscalationRepository.release`): nobody
    holds the conversation now (reason `bot` when the bot resumed, else `assignment`: the relay
    moves rooms on both), `bot:resumed`, and an assignment run for the freed slot."""
    if not outcome.changed:
        return
    changes = outcome.extra.get("changes", {})
    resumed = changes.get("botEnabled") is True
    esc_id = (outcome.escalation or {}).get("id")
    futures = [events.publish("conversation:updated", workspace_id,
                              ConversationUpdated(conversationId=conversation_id,
                                                  reason="bot" if resumed else "assignment",
                                                  status=changes.get("status") if with_status else None,
                                                  assignedAgent=None, botEnabled=True if resumed else None),
                              conversation_id=conversation_id, agent_id=outcome.previous_agent_id)]
    if resumed:
        futures.append(events.publish("bot:resumed", workspace_id,
                                      BotResumedPayload(conversationId=conversation_id, escalationId=esc_id,
                                                        by=by),
                                      conversation_id=conversation_id))
    pubsub.wait(futures)
    if outcome.freed_slot:
        assignment.request(workspace_id)


def return_to_bot(principal: Principal, conversation_id: str) -> dict:
    conversation_id = safe_id(conversation_id, "conversation")
    outcome = EscalationRepository(principal.workspace_id).release(
        conversation_id, "returned_to_bot", by=principal, status="open", resume_bot=True,
        visible_to=restricted_to(principal))
    if outcome.changed:
        analytics.hold_ended(principal.workspace_id, {**outcome.extra["before"], "id": conversation_id}, None)
    after_release(principal.workspace_id, conversation_id, outcome, principal.user_id)
    return {"conversationId": conversation_id, "botEnabled": True, "status": "open", "changed": outcome.changed}


def check_timeout(workspace_id: str, conversation_id: str, message_id: str) -> dict:
    """Fired `timeoutHours` after an inbound message: escalate if nobody has answered it since.
    The task is never cancelled (the emulator cannot); this check is what makes it harmless."""
    msgs = MessageRepository(workspace_id)
    message = msgs.get(conversation_id, message_id)
    conv = ConversationRepository(workspace_id).get(conversation_id)
    if message is None or conv is None:
        return {"skipped": "gone"}
    if conv.get("status") in ("closed", "escalated") or conv.get("escalationId"):
        return {"skipped": conv.get("status")}
    if answered_since(workspace_id, conversation_id, message):
        return {"skipped": "answered"}
    esc, created = start(workspace_id, conversation_id, reason="timeout", trigger=f"{message_id}:timeout",
                         detail="customer message unanswered", from_type="system")
    return {"escalationId": esc["id"], "created": created}


def answered_since(workspace_id: str, conversation_id: str, message: dict) -> bool:
    """Any agent or bot message after `message` (one range query on createdAt, small limit)."""
    from google.cloud import firestore
    col = MessageRepository(workspace_id).ref(conversation_id, message["id"]).parent
    later = col.where(filter=firestore.FieldFilter("createdAt", ">", message["createdAt"])) \
        .order_by("createdAt").limit(50).stream()
    return any(d.get("direction") == "outbound" and d.get("senderType") in ("agent", "bot") for d in later)
