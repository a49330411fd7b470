"""Choosing agents: the waiting queue, drained oldest first by the `assignments` task queue, the
offers it makes, and the workspace's business hours.

Every request for assignment (a new escalation, a freed slot, an agent coming online, an offer
back in the queue) enqueues an `assignment_run` task; a workspace's runs never overlap (a lease,
services/assignment_runs.py), so the read-decide-write on the agent documents never contends (DESIGN.md, hot documents). Each
assignment is still its own transaction that re-checks everything, so even two runs at once could
not exceed a capacity.

Business hours (services/business_hours.py): outside them nothing is offered; the run schedules one
for the next opening (named by it: one task however often it is asked) and waiting escalations are
offered then, oldest first. The `assignment_sweep` job catches an opening whose task was lost.

Offers: an escalation offered to one agent (`assigned`, holding one of their slots) until they
accept or reject it, it lapses, or they leave.
- Lapsing, fire-and-check: each offer is named (`offerId`) and carries `offerExpiresAt` (now plus
  `escalation.offerTimeoutSeconds`, 120; 0 never lapses). An `offer_timeout` task due then checks
  that the same offer still stands unanswered; if so the escalation goes back to the queue
  (keeping its age) with that agent in `skippedAgents` (others first, them again only if nobody
  else fits). Cloud Tasks cannot cancel the task: the check is what makes it harmless after an
  accept, a reject or another offer. `assignment_sweep` finds lapsed offers whose task was lost.
- Leaving: an agent going offline (PATCH /agents/me/status, the relay's presence grace) loses
  their offers, and with `escalation.releaseOnOffline` "offers_and_conversations" the
  conversations they accepted; a deactivated agent loses both, always.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from utalk import clock, errors, events, logs, pubsub, tasks
from utalk.auth.tokens import Principal
from utalk.models.escalations import AssignmentTask, ConversationAssignedPayload, EscalationSummary, OfferTask
from utalk.models.events import ConversationUpdated
from utalk.repositories.agents import AgentRepository
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.escalations import EscalationRepository
from utalk.repositories.workspaces import workspace_settings
from utalk.services import analytics, business_hours

log = logs.get("assignment")
BATCH = 25
DEFAULT_OFFER_SECONDS = 120


def request(workspace_id: str, escalation_id: str | None = None, dedup_key: str | None = None,
            delay_seconds: float = 0) -> bool:
    """Ask for the waiting queue to be drained (fire and forget; duplicates are harmless, and a
    `dedup_key` already used enqueues nothing: False), now or after `delay_seconds`."""
    return tasks.enqueue("assignment_run", AssignmentTask(workspaceId=workspace_id, escalationId=escalation_id),
                         delay_seconds=delay_seconds, dedup_key=dedup_key and f"{workspace_id}:{dedup_key}")


def sweep_waiting(workspace_id: str, run_id: str) -> bool:
    """The waiting-queue sweep's work for one workspace with pending escalations: one assignment
    run per workspace and sweep run (capacity may have freed without an event saying so)."""
    return request(workspace_id, dedup_key=f"sweep:{run_id}")


def announce_assigned(workspace_id: str, esc: dict, agent_id: str, previous: str | None = None) -> None:
    conv_id = esc["conversationId"]
    summary = EscalationSummary.of(esc)
    pubsub.wait([
        events.publish("conversation:assigned", workspace_id,
                       ConversationAssignedPayload(conversationId=conv_id, escalationId=esc.get("id"),
                                                   agentId=agent_id, previousAgentId=previous, escalation=summary),
                       conversation_id=conv_id, agent_id=agent_id),
        events.publish("conversation:updated", workspace_id,
                       ConversationUpdated(conversationId=conv_id, reason="assignment", status="escalated",
                                           assignedAgent=agent_id, botEnabled=False, escalationId=esc.get("id"),
                                           escalation=summary),
                       conversation_id=conv_id),
    ])


def back_to_queue(workspace_id: str, esc: dict, agent_id: str) -> None:
    """After an escalation left an agent for the queue (rejected, lapsed, the agent gone): tell the
    conversation and that agent nobody holds it, and ask for the next agent (the freed slot too)."""
    pubsub.wait([events.publish(
        "conversation:updated", workspace_id,
        ConversationUpdated(conversationId=esc["conversationId"], reason="assignment", assignedAgent=None,
                            escalationId=esc["id"], escalation=EscalationSummary.of(esc)),
        conversation_id=esc["conversationId"], agent_id=agent_id)])
    request(workspace_id, esc["id"])


def drain(workspace_id: str) -> dict:
    """Offer waiting escalations, oldest first, until none wait or no agent has a free slot."""
    cfg = workspace_settings(workspace_id)
    now = clock.now()
    if not business_hours.is_open(cfg, now):
        return _wait_for_opening(workspace_id, cfg, now)
    esc_cfg = cfg.get("escalation") or {}
    route_by_skill = bool(esc_cfg.get("routeBySkill"))
    lapse = float(esc_cfg.get("offerTimeoutSeconds", DEFAULT_OFFER_SECONDS) or 0)
    repo = EscalationRepository(workspace_id)
    assigned, skipped = 0, set()
    while True:
        waiting = [e for e in repo.waiting(BATCH + len(skipped)) if e["id"] not in skipped]
        if not waiting:
            break
        progress = False
        for esc in waiting:
            # Contended (only when runs overlap, never under the workspace's lease) propagates:
            # nothing was written and the task handler answers 503, so Cloud Tasks tries again.
            expires = clock.now() + timedelta(seconds=lapse) if lapse > 0 else None
            outcome = repo.assign_next_agent(esc["id"], route_by_skill, expires)
            if outcome.note == "assigned":
                assigned += 1
                progress = True
                analytics.offered(workspace_id, outcome.escalation, outcome.agent_id,
                                  (outcome.conversation or {}).get("channel"))
                _schedule_lapse(workspace_id, outcome.escalation)
                announce_assigned(workspace_id, outcome.escalation, outcome.agent_id)
            elif outcome.note == "no_agent":
                if not outcome.extra.get("anyCapacity"):
                    return {"assigned": assigned, "stopped": "no_capacity"}
                skipped.add(esc["id"])   # nobody fits this one (skills, rejections); try younger ones
            else:
                progress = True          # completed or no longer waiting: out of the queue
        if not progress:
            break
    return {"assigned": assigned, "unmatched": len(skipped)}


def _wait_for_opening(workspace_id: str, cfg: dict, now: datetime) -> dict:
    opening = business_hours.next_opening(cfg, now)
    if opening is None:
        return {"assigned": 0, "stopped": "never_open"}
    # One task per workspace and opening, however many runs ask for it meanwhile.
    request(workspace_id, dedup_key=f"opening:{opening.isoformat()}",
            delay_seconds=max(1.0, (opening - now).total_seconds()))
    return {"assigned": 0, "stopped": "out_of_hours", "opensAt": opening.isoformat()}


# -- offers that lapse ---------------------------------------------------------------------------
def _schedule_lapse(workspace_id: str, esc: dict) -> None:
    """The fire-and-check task of a new offer, due when it lapses (none for an offer that does not)."""
    expires = esc.get("offerExpiresAt")
    if expires is None:
        return
    tasks.enqueue("offer_timeout", OfferTask(workspaceId=workspace_id, escalationId=esc["id"], offerId=esc["offerId"]),
                  delay_seconds=max(0.0, (expires - clock.now()).total_seconds()), dedup_key=esc["offerId"])


def expire_offer(workspace_id: str, escalation_id: str, offer_id: str) -> dict:
    """The `offer_timeout` task (and the sweep): back to the queue if this offer still stands lapsed."""
    outcome = EscalationRepository(workspace_id).expire_offer(escalation_id, offer_id, clock.now())
    if outcome.changed:
        log.info("offer %s of %s lapsed", offer_id, escalation_id,
                 extra={"workspaceId": workspace_id, "agentId": outcome.previous_agent_id})
        back_to_queue(workspace_id, outcome.escalation, outcome.previous_agent_id)
    return {"expired": outcome.changed, "note": outcome.note}


def sweep_lapsed(item: tuple[str, str, str], run_id: str) -> bool:
    """The sweep's work for one lapsed offer (workspace, escalation, offer): the same check."""
    return expire_offer(*item)["expired"]


# -- agents who leave ----------------------------------------------------------------------------
def release_agent(workspace_id: str, agent_id: str) -> dict:
    """An agent who is offline or deactivated (checked now: they may be back by the time a task
    runs) loses their offers and, per `escalation.releaseOnOffline` (always when deactivated),
    the conversations they accepted; each goes back to the queue."""
    agent = AgentRepository(workspace_id).get(agent_id)
    if agent is None:
        return {"skipped": "no_agent"}
    deactivated = agent.get("active") is False
    if not deactivated and agent.get("status") != "offline":
        return {"skipped": agent.get("status")}
    policy = (workspace_settings(workspace_id).get("escalation") or {}).get("releaseOnOffline", "offers")
    repo = EscalationRepository(workspace_id)
    held = repo.held_by(agent_id, "assigned")
    if deactivated or policy == "offers_and_conversations":
        held += repo.held_by(agent_id, "accepted")
    released = 0
    for esc_id in held:
        outcome = repo.withdraw(esc_id, agent_id)
        if outcome.changed:
            released += 1
            conv_id = outcome.escalation["conversationId"]
            conv = ConversationRepository(workspace_id).get(conv_id)
            if conv:
                analytics.hold_ended(workspace_id, {**conv, "id": conv_id}, None, agent_id=agent_id)
            back_to_queue(workspace_id, outcome.escalation, agent_id)
    return {"released": released}


def set_presence(principal: Principal, status: str) -> dict:
    """An agent's own status; coming online may take waiting escalations, going offline gives back
    the offers in hand (and per settings the conversations)."""
    repo = AgentRepository(principal.workspace_id)
    agent = repo.get(principal.user_id)
    if agent is None:
        raise errors.NotFound("You have no agent profile", code="agent_not_found")
    if agent.get("active") is False:
        raise errors.Forbidden("This account is not active", code="account_inactive")
    repo.set_status(principal.user_id, status)
    after = repo.get(principal.user_id) or {}
    analytics.presence_changed(principal.workspace_id, principal.user_id, agent, after)
    if status == "online":
        request(principal.workspace_id)
    elif status == "offline":
        release_agent(principal.workspace_id, principal.user_id)
    return {"userId": principal.user_id, **{k: v for k, v in after.items()
                                            if k in ("status", "maxConversations", "currentConversations",
                                                     "skills")}}
