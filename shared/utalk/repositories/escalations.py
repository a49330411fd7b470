"""Escalations (`workspaces/{ws}/escalations/{id}`) and the transactions that move them.

Each state change touches the escalation, its conversation and the agents whose slots change in
ONE transaction that re-reads and re-checks state, so a redelivered task or a concurrent request
either sees the change already made or retries on fresh data; capacity can never be exceeded.
Functions return what happened so the service can publish events after the commit.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from google.api_core.exceptions import Aborted
from google.cloud import firestore

from utalk import errors
from utalk.clock import stamp   # server time, or the local stack's moved clock
from utalk.models.escalations import ACTIVE
from utalk.repositories.agents import DEFAULT_MAX_CONVERSATIONS, has_capacity, pick_agent
from utalk.repositories.base import WorkspaceScope, read, safe_id
from utalk.visibility import ensure_may_act, ensure_visible

MAX_ATTEMPTS = 5   # the library default; then the caller (queue or client) retries


@dataclass
class Outcome:
    """What a transaction did: `changed` False means it found the work already done."""
    changed: bool
    escalation: dict | None = None
    conversation: dict | None = None
    agent_id: str | None = None
    previous_agent_id: str | None = None
    freed_slot: bool = False
    created: bool = False
    note: str = ""
    extra: dict = field(default_factory=dict)


def summary(esc: dict) -> dict:
    """The conversation's `escalation` field (models/escalation_summary.py) for `esc` as it is after
    the change: written with every change of an active escalation, so the conversation alone tells
    the inbox who it is offered to or held by, and since when."""
    return {"id": esc["id"], "status": esc["status"], "reason": esc.get("reason"), "agentId": esc.get("toAgentId"),
            "createdAt": esc.get("createdAt") or stamp(), "since": stamp()}


def _free_slot(txn, agent_ref, agent: dict | None) -> None:
    if agent is not None:
        txn.update(agent_ref, {"currentConversations": max(0, int(agent.get("currentConversations") or 0) - 1)})


class EscalationRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.db = self.scope.db
        self.escalations = self.scope.collection("escalations")
        self.conversations = self.scope.collection("conversations")
        self.agents = self.scope.collection("agents")

    def ref(self, escalation_id: str):
        return self.escalations.document(safe_id(escalation_id, "escalation"))

    def conv_ref(self, conversation_id: str):
        return self.conversations.document(safe_id(conversation_id, "conversation"))

    def get(self, escalation_id: str) -> dict | None:
        return read(self.ref(escalation_id))

    def waiting(self, limit: int) -> list[dict]:
        """The waiting queue, oldest first (index: status ASC, createdAt ASC)."""
        query = self.escalations.where(filter=firestore.FieldFilter("status", "==", "pending")) \
            .order_by("createdAt").limit(limit)
        return [d.to_dict() for d in query.stream()]

    def _run(self, fn):
        try:
            return firestore.transactional(fn)(self.db.transaction(max_attempts=MAX_ATTEMPTS))
        except (Aborted, ValueError) as exc:
            if isinstance(exc, ValueError) and "Failed to commit transaction" not in str(exc):
                raise
            # Still contended after every retry (only when writers overlap, e.g. the emulator's
            # pessimistic locks under a burst): nothing was written; say "try again", not 500.
            raise errors.Contended("The conversation is busy, try again") from None

    # -- start ------------------------------------------------------------------------------
    def start(self, record: dict, visible_to: str | None = None) -> Outcome:
        """Create the escalation and pause the bot, unless the conversation is already escalated
        or this trigger already produced one (its id is derived from the trigger). `visible_to`
        (here and below): the agent a requester's sight is limited to; others' conversations are 404."""
        esc_ref, conv_ref = self.ref(record["id"]), self.conv_ref(record["conversationId"])

        def run(txn):
            conv = ensure_visible(read(conv_ref, txn), visible_to)
            existing = read(esc_ref, txn)
            if existing is not None:
                return Outcome(False, existing, conv, note="duplicate_trigger")
            active_id = conv.get("escalationId")
            if active_id:
                active = read(self.ref(active_id), txn)
                if active and active.get("status") in ACTIVE:
                    return Outcome(False, active, conv, note="already_escalated")
            if conv.get("status") == "closed":
                raise errors.Conflict("The conversation is closed", code="conversation_closed")
            txn.create(esc_ref, {**record, "status": "pending", "toAgentId": None, "rejectedBy": [],
                                 "createdAt": stamp(), "updatedAt": stamp()})
            changes = {"status": "escalated", "botEnabled": False, "escalationId": record["id"],
                       "assignedAgent": None, "escalation": summary({**record, "status": "pending"}),
                       "updatedAt": stamp()}
            txn.update(conv_ref, changes)
            return Outcome(True, {**record, "status": "pending"}, {**conv, **changes}, created=True)

        return self._run(run)

    # -- assignment (runs of one workspace never overlap: services/assignment_runs.py) --------
    def assign_next_agent(self, escalation_id: str, route_by_skill: bool,
                          offer_expires_at: datetime | None = None) -> Outcome:
        """Offer a waiting escalation to the best available agent; note says why not if it cannot.
        The offer is named (`offerId`) and, with `offer_expires_at`, lapses then (services/assignment.py)."""
        esc_ref = self.ref(escalation_id)
        online = self.agents.where(filter=firestore.FieldFilter("status", "==", "online"))

        def run(txn):
            esc = read(esc_ref, txn)
            if esc is None or esc.get("status") != "pending":
                return Outcome(False, esc, note="not_waiting")
            conv_ref = self.conv_ref(esc["conversationId"])
            conv = read(conv_ref, txn)
            if conv is None or conv.get("status") == "closed" or conv.get("escalationId") != escalation_id:
                # Closed or handed back before an agent was found: nothing left to assign.
                txn.update(esc_ref, {"status": "completed", "completion": "closed", "completedAt": stamp(),
                                     "updatedAt": stamp()})
                return Outcome(True, esc, conv, note="completed")
            agents = [{**s.to_dict(), "userId": s.id} for s in online.stream(transaction=txn)]
            agent = pick_agent(agents, skills=esc.get("skills") or (), rejected=esc.get("rejectedBy") or (),
                               skipped=esc.get("skippedAgents") or (), route_by_skill=route_by_skill)
            if agent is None:
                return Outcome(False, esc, conv, note="no_agent",
                               extra={"anyCapacity": any(has_capacity(a) for a in agents)})
            txn.update(self.agents.document(agent["userId"]), {
                "currentConversations": int(agent.get("currentConversations") or 0) + 1,
                "maxConversations": int(agent.get("maxConversations") or DEFAULT_MAX_CONVERSATIONS),
                "lastAssignedAt": stamp()})
            offer = {"status": "assigned", "toAgentId": agent["userId"], "offerId": uuid.uuid4().hex,
                     "offerExpiresAt": offer_expires_at}
            txn.update(esc_ref, {**offer, "assignedAt": stamp(), "updatedAt": stamp()})
            offered = {**esc, **offer}
            txn.update(conv_ref, {"assignedAgent": agent["userId"], "escalation": summary(offered), "updatedAt": stamp()})
            return Outcome(True, offered, conv, agent_id=agent["userId"], note="assigned")

        return self._run(run)

    # -- agent answers -----------------------------------------------------------------------
    def accept(self, escalation_id: str, agent_id: str) -> Outcome:
        esc_ref = self.ref(escalation_id)

        def run(txn):
            esc = read(esc_ref, txn)
            if esc is None:
                raise errors.NotFound("No such escalation", code="escalation_not_found")
            if esc.get("toAgentId") != agent_id or esc.get("status") not in ("assigned", "accepted"):
                raise errors.Conflict("This escalation is not offered to you", code="not_assigned_to_you",
                                      details={"status": esc.get("status")})
            if esc["status"] == "accepted":
                return Outcome(False, esc, agent_id=agent_id)
            txn.update(esc_ref, {"status": "accepted", "acceptedAt": stamp(), "updatedAt": stamp()})
            accepted = {**esc, "status": "accepted"}
            txn.update(self.conv_ref(esc["conversationId"]), {"escalation": summary(accepted), "updatedAt": stamp()})
            return Outcome(True, accepted, agent_id=agent_id)

        return self._run(run)

    def reject(self, escalation_id: str, agent_id: str, reason: str | None) -> Outcome:
        """Back to the waiting queue (keeping its age), never to this agent again; frees the slot."""
        esc_ref = self.ref(escalation_id)
        safe_id(agent_id, "agent")

        def run(txn):
            esc = read(esc_ref, txn)
            if esc is None:
                raise errors.NotFound("No such escalation", code="escalation_not_found")
            # A repeated reject finds the first one done: the escalation waits, or has already
            # been offered to someone else (assignment can be quicker than the client's retry).
            if agent_id in (esc.get("rejectedBy") or []) and esc.get("toAgentId") != agent_id:
                return Outcome(False, esc, agent_id=agent_id)
            if esc.get("toAgentId") != agent_id or esc.get("status") != "assigned":
                raise errors.Conflict("Only an offered, not yet accepted escalation can be rejected",
                                      code="not_assigned_to_you", details={"status": esc.get("status")})
            return self._to_queue(txn, esc_ref, esc, agent_id, {"rejectedBy": firestore.ArrayUnion([agent_id]),
                                                               "lastRejectReason": reason})

        return self._run(run)

    def _to_queue(self, txn, esc_ref, esc: dict, agent_id: str, fields: dict) -> Outcome:
        """Back to the waiting queue (keeping its age): the agent's slot freed, nobody holding the
        conversation. Every read of the transaction must be done before (this reads the agent)."""
        agent_ref = self.agents.document(agent_id)
        _free_slot(txn, agent_ref, read(agent_ref, txn))
        txn.update(esc_ref, {"status": "pending", "toAgentId": None, "assignedAt": None, "offerId": None,
                             "offerExpiresAt": None, "updatedAt": stamp(), **fields})
        waiting = {**esc, "status": "pending", "toAgentId": None}
        txn.update(self.conv_ref(esc["conversationId"]), {"assignedAgent": None, "escalation": summary(waiting),
                                                          "updatedAt": stamp()})
        return Outcome(True, waiting, agent_id=agent_id, previous_agent_id=agent_id, freed_slot=True)

    # -- offers that lapse, agents who leave --------------------------------------------------------
    def expire_offer(self, escalation_id: str, offer_id: str, now: datetime) -> Outcome:
        """If offer `offer_id` still stands unanswered past its expiry, back to the queue with that
        agent skipped; anything else (accepted, rejected, re-offered, not due) changes nothing."""
        esc_ref = self.ref(escalation_id)

        def run(txn):
            esc = read(esc_ref, txn)
            if esc is None or esc.get("status") != "assigned" or esc.get("offerId") != offer_id:
                return Outcome(False, esc, note="offer_gone")
            expires = esc.get("offerExpiresAt")
            if expires is None or expires > now:
                return Outcome(False, esc, note="not_due")
            agent_id = esc["toAgentId"]
            return self._to_queue(txn, esc_ref, esc, agent_id, {"skippedAgents": firestore.ArrayUnion([agent_id])})

        return self._run(run)

    def held_by(self, agent_id: str, status: str) -> list[str]:
        """Ids of the escalations in `status` (assigned: offered; accepted: taken) the agent holds
        (two equality filters: single-field indexes suffice)."""
        query = self.escalations.where(filter=firestore.FieldFilter("toAgentId", "==", agent_id)) \
            .where(filter=firestore.FieldFilter("status", "==", status)).select([])
        return [d.id for d in query.stream()]

    def withdraw(self, escalation_id: str, agent_id: str) -> Outcome:
        """Take an escalation away from an agent who left (offered or accepted) and queue it again."""
        esc_ref = self.ref(escalation_id)

        def run(txn):
            esc = read(esc_ref, txn)
            if esc is None or esc.get("toAgentId") != agent_id or esc.get("status") not in ("assigned", "accepted"):
                return Outcome(False, esc, note="not_held")
            return self._to_queue(txn, esc_ref, esc, agent_id, {"acceptedAt": None, "withdrawnFrom": agent_id})

        return self._run(run)

    # -- manual assignment and hand-back ---------------------------------------------------------
    def assign(self, conversation_id: str, target_id: str, by, new_record: dict,
               visible_to: str | None = None) -> Outcome:
        """Give the conversation to `target_id` (escalating it if needed); `by` is the Principal."""
        conv_ref = self.conv_ref(conversation_id)
        target_ref = self.agents.document(safe_id(target_id, "agent"))

        def run(txn):
            conv = ensure_visible(read(conv_ref, txn), visible_to)
            if conv.get("status") == "closed":
                raise errors.Conflict("The conversation is closed", code="conversation_closed")
            current = conv.get("assignedAgent")
            # Agents take an unassigned conversation for themselves or transfer their own; admins anything.
            if by.role != "admin" and not (current == by.user_id or (current is None and target_id == by.user_id)):
                raise errors.Forbidden("Agents can take an unassigned conversation or transfer their own",
                                       code="not_your_conversation")
            esc_id = conv.get("escalationId")
            esc = read(self.ref(esc_id), txn) if esc_id else None
            if esc is not None and esc.get("status") not in ACTIVE:
                esc = None
            if current == target_id and esc is not None:
                return Outcome(False, esc, conv, agent_id=target_id)
            target = read(target_ref, txn)
            if target is None:
                raise errors.NotFound("No such agent", code="agent_not_found")
            user = read(self.scope.collection("users").document(target_id), txn)
            if target.get("active") is False or (user or {}).get("status", "active") != "active":
                raise errors.Conflict("The agent is deactivated", code="agent_inactive")
            if not has_capacity(target):
                raise errors.Conflict("The agent has no free slot", code="agent_at_capacity",
                                      details={"maxConversations": target.get("maxConversations")})
            # Reads first (a transaction requires it), then writes.
            prev_ref = self.agents.document(current) if current and current != target_id else None
            prev = read(prev_ref, txn) if prev_ref is not None else None
            status = "accepted" if target_id == by.user_id else "assigned"
            created = esc is None
            # A person chose this agent: the offer does not lapse, and an earlier offer's expiry
            # task finds its offer gone (offerId None).
            given = {"status": status, "toAgentId": target_id, "assignedAt": stamp(), "updatedAt": stamp(),
                     "offerId": None, "offerExpiresAt": None, **({"acceptedAt": stamp()} if status == "accepted" else {})}
            if created:
                esc = {**new_record, "rejectedBy": [], "createdAt": stamp()}
                txn.create(self.ref(esc["id"]), {**esc, **given})
            else:
                txn.update(self.ref(esc["id"]), given)
            if prev is not None:
                _free_slot(txn, prev_ref, prev)
            txn.update(target_ref, {"currentConversations": int(target.get("currentConversations") or 0) + 1,
                                    "lastAssignedAt": stamp()})
            esc = {**esc, "status": status, "toAgentId": target_id}
            changes = {"status": "escalated", "botEnabled": False, "assignedAgent": target_id,
                       "escalationId": esc["id"], "escalation": summary(esc), "updatedAt": stamp()}
            txn.update(conv_ref, changes)
            return Outcome(True, esc, {**conv, **changes},
                           agent_id=target_id, previous_agent_id=current, freed_slot=prev is not None,
                           created=created)

        return self._run(run)

    def release(self, conversation_id: str, completion: str, by=None, *, status: str | None = None,
                resume_bot: bool = False, visible_to: str | None = None,
                check: Callable[[dict], bool] | None = None) -> Outcome:
        """Complete the active escalation (`completion`), unassign and free the holder's slot, and
        with it, in the same transaction, move the conversation to `status` (closing stamps
        `closedAt`) and with `resume_bot` turn the bot back on. `check(conversation)` sees the
        fresh document first: it may raise to refuse, or return False to leave everything as is.
        `by` (the Principal asking, None for the system) must hold the conversation or be an admin."""
        conv_ref = self.conv_ref(conversation_id)

        def run(txn, seen: dict | None = None):
            conv = ensure_visible(seen or read(conv_ref, txn), visible_to)
            if check is not None and check(conv) is False:
                return Outcome(False, None, conv, note="skipped")
            current = conv.get("assignedAgent")
            if by is not None:
                ensure_may_act(by.role, by.user_id, current)
            esc_id = conv.get("escalationId")
            if txn is None and (esc_id or current):   # something to release: decided in the transaction
                return None
            esc = read(self.ref(esc_id), txn) if esc_id else None
            active = esc is not None and esc.get("status") in ACTIVE
            holder = esc.get("toAgentId") if active and esc.get("status") in ("assigned", "accepted") else None
            holder = holder or current
            agent_ref = self.agents.document(holder) if holder else None
            agent = read(agent_ref, txn) if agent_ref is not None else None
            changes = {"assignedAgent": None, "escalationId": None, "escalation": None} \
                if active or current or esc_id else {}
            if status and conv.get("status") != status:
                changes["status"] = status
                if status == "closed":
                    changes["closedAt"] = stamp()
            if resume_bot and conv.get("botEnabled") is not True:
                changes["botEnabled"] = True
            if not changes:
                return Outcome(False, esc, conv)
            if txn is None:      # a status or the bot to change: in the transaction
                return None
            if active:
                txn.update(self.ref(esc_id), {"status": "completed", "completion": completion,
                                              "completedAt": stamp(), "updatedAt": stamp()})
            if agent is not None:
                _free_slot(txn, agent_ref, agent)
            txn.update(conv_ref, {**changes, "updatedAt": stamp()})
            return Outcome(True, esc if active else None, {**conv, **changes}, previous_agent_id=holder,
                           freed_slot=agent is not None, extra={"changes": changes, "before": conv})

        # First on one plain read: with nothing held, escalated or to change (a repeat, a double click)
        # `run` answers from it, without the transaction whose reads the emulator locks as writes (its
        # repeats contended for 10 s each and answered 409); anything else it leaves to the transaction.
        seen = read(conv_ref)
        return (run(None, seen) if seen is not None else None) or self._run(run)
