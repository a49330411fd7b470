"""The bot: dispatching inbound messages to bot runs, and running one (context, LLM, reply or escalate).

Idempotent per inbound message: the BotRun id and the reply's message id are derived from the
inbound message id, so a redelivered run reuses the recorded decision (no second LLM call, no
second cost) and `queue_outbound` sends nothing twice.
"""
from __future__ import annotations

import time
import uuid

from utalk import clock, logs, tasks
from utalk.ai import ProviderError, provider_for
from utalk.ai import context
from utalk.ai.pricing import cost_usd
from utalk.models.bot import BotDecision, BotRunTask, Completion
from utalk.models.escalations import TimeoutTask
from utalk.repositories.bot_runs import BotRunRepository
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.messages import MessageRepository
from utalk.repositories.workspaces import workspace_settings
from utalk.services import analytics, business_hours, escalation
from utalk.text import find_keyword

log = logs.get("bot")
_NS = uuid.UUID("0b4e7c4e-1f0a-4d7c-8a64-2f5d3c9e7a10")
BOT_SENDER = "bot"
HISTORY_LIMIT = 30
DEFAULT_HOLDING = "Gracias por tu mensaje. Te comunicaremos con un agente en breve."
DEFAULT_THRESHOLD = 0.5
DEFAULT_TIMEOUT_HOURS = 12


def run_id(message_id: str) -> str:
    return f"run_{uuid.uuid5(_NS, message_id)}"


def reply_key(message_id: str) -> str:
    """The reply's idempotency key: deterministic, yet shaped as the UUID v4 outbound keys are."""
    return str(uuid.UUID(bytes=uuid.uuid5(_NS, f"reply:{message_id}").bytes, version=4))


def bot_may_answer(bot_cfg: dict, conv: dict | None) -> bool:
    """The bot never answers while a conversation is escalated, closed or has the bot switched off."""
    return bool(conv) and bot_cfg.get("enabled", True) and conv.get("botEnabled", True) \
        and conv.get("status") not in ("escalated", "closed") and not conv.get("escalationId")


def dispatch(workspace_id: str, conversation_id: str, message_id: str) -> dict:
    """For each stored inbound message: settle the conversation (its initial state if a crash lost
    it, reopened if it was closed: services/lifecycle.py), schedule the message's unanswered-timeout
    check and, if the bot is on for this conversation, enqueue its bot run (task names dedupe
    redeliveries in production)."""
    cfg = workspace_settings(workspace_id)
    conv = ConversationRepository(workspace_id).get(conversation_id)
    if conv is None:
        return {"skipped": "no_conversation"}
    if "status" not in conv or conv.get("status") == "closed" or conv.get("reopenedBy") == message_id:
        from utalk.services import lifecycle  # only the rare transitions pay for importing it

        before = conv
        conv = lifecycle.settle(workspace_id, conv, message_id, cfg)
        if before.get("status") == "closed" and conv.get("status") != "closed":
            # Counted once per episode (the event key): a redelivery finds the conversation open.
            analytics.conversation_reopened(workspace_id, {**before, "id": conversation_id}, clock.now())
    # Before the bot run is enqueued, so the episode's opening precedes its first answer.
    analytics.customer_message(workspace_id, conv, message_id, cfg)
    done = {}
    hours = float((cfg.get("escalation") or {}).get("timeoutHours", DEFAULT_TIMEOUT_HOURS) or 0)
    if hours > 0 and conv.get("status") not in ("escalated", "closed"):
        tasks.enqueue("escalation_timeout", TimeoutTask(workspaceId=workspace_id, conversationId=conversation_id,
                                                        messageId=message_id),
                      delay_seconds=hours * 3600, dedup_key=message_id)
        done["timeoutInSeconds"] = hours * 3600
    if bot_may_answer(cfg.get("bot") or {}, conv):
        tasks.enqueue("bot_run", BotRunTask(workspaceId=workspace_id, conversationId=conversation_id,
                                            messageId=message_id), dedup_key=message_id)
        done["botRun"] = True
    return done


def _send(workspace_id: str, conversation_id: str, channel: str | None, message_id: str, text: str) -> None:
    """The bot's reply, fitted to its channel's text limit (the bot answers inside the window it
    was written in, and never with a message tag: `channels/rules.py`)."""
    from utalk.channels.rules import rules_for
    from utalk.services import messaging
    messaging.queue_outbound(workspace_id, conversation_id, text=rules_for(channel).fit(text),
                             sender_type="bot", sender_id=BOT_SENDER, message_id=reply_key(message_id))


def _handover(workspace_id: str, conv_id: str, channel: str | None, msg_id: str, text: str, *, reason: str,
              detail: str | None, skills=(), cfg: dict) -> dict:
    """Say so to the customer, then escalate (both keyed by the inbound message: retry-safe).
    Outside business hours the customer is told so instead: nobody is offered it until opening."""
    _send(workspace_id, conv_id, channel, msg_id, business_hours.closed_message(cfg, clock.now()) or text)
    esc, _ = escalation.start(workspace_id, conv_id, reason=reason, trigger=msg_id, detail=detail,
                              from_type="bot", from_id=BOT_SENDER, skills=skills)
    return {"escalated": reason, "escalationId": esc["id"]}


def _call_llm(workspace_id: str, conv_id: str, message: dict, bot_cfg: dict) -> dict:
    """Call the provider once per inbound message and record the BotRun; a retry reads it back."""
    runs = BotRunRepository(workspace_id)
    rid = run_id(message["id"])
    recorded = runs.get(rid)
    if recorded is not None:
        return recorded
    history, _ = MessageRepository(workspace_id).list(conv_id, HISTORY_LIMIT, None)
    at = message.get("createdAt")
    history = [m for m in reversed(history) if at is None or m.get("createdAt") is None or m["createdAt"] <= at]
    prompt = context.build(bot_cfg.get("systemPrompt"), history)
    provider = provider_for(bot_cfg)
    started = time.perf_counter()
    completion: Completion | None = None
    error: ProviderError | None = None
    try:
        completion = provider.complete(prompt)
    except ProviderError as exc:
        error = exc
    duration_ms = int((time.perf_counter() - started) * 1000)
    model = completion.model if completion else (error.model or provider.model)
    tokens_in, tokens_out = (completion.tokens_in, completion.tokens_out) if completion else (0, 0)
    run = {"id": rid, "workspaceId": workspace_id, "conversationId": conv_id, "messageId": message["id"],
           "provider": provider.name, "model": model, "prompt": [m.model_dump() for m in prompt],
           "response": completion.raw if completion else (error.raw or None),
           "decision": completion.decision.model_dump() if completion else None,
           "error": f"{error.kind}: {error}" if error else None, "errorKind": error.kind if error else None,
           "tokensIn": tokens_in, "tokensOut": tokens_out, "durationMs": duration_ms,
           "costUsd": cost_usd(model, tokens_in, tokens_out), "outcome": None}
    runs.save(run)
    log.info("bot run %s: %s %s in %d ms, %d/%d tokens, $%.6f", rid, provider.name, model, duration_ms,
             tokens_in, tokens_out, run["costUsd"], extra={"botRunId": rid, "durationMs": duration_ms})
    return run


def run(workspace_id: str, conversation_id: str, message_id: str) -> dict:
    """Answer one inbound customer message, or hand the conversation over to an agent."""
    cfg = workspace_settings(workspace_id)
    bot_cfg, esc_cfg = cfg.get("bot") or {}, cfg.get("escalation") or {}
    conv = ConversationRepository(workspace_id).get(conversation_id)
    message = MessageRepository(workspace_id).get(conversation_id, message_id)
    if conv is None or message is None:
        return {"skipped": "gone"}
    if message.get("direction") != "inbound" or message.get("senderType", "customer") != "customer":
        return {"skipped": "not_customer"}          # agent and bot messages never trigger the bot
    if not bot_may_answer(bot_cfg, conv):
        return {"skipped": "bot_paused"}
    holding = bot_cfg.get("holdingMessage") or DEFAULT_HOLDING
    channel = conv.get("channel")

    keyword = find_keyword(message.get("text") or "", esc_cfg.get("keywords") or [])
    if keyword:
        return _handover(workspace_id, conversation_id, channel, message_id, holding, reason="keyword",
                         detail=keyword, cfg=cfg)

    recorded = _call_llm(workspace_id, conversation_id, message, bot_cfg)
    analytics.bot_run(workspace_id, channel, recorded)   # also for a run found recorded: counted once
    runs = BotRunRepository(workspace_id)
    if recorded.get("decision") is None:
        runs.set_outcome(recorded["id"], "failed")
        return _handover(workspace_id, conversation_id, channel, message_id, holding,
                         reason=recorded.get("errorKind") or "error", detail=recorded.get("error"), cfg=cfg)
    decision = BotDecision.model_validate(recorded["decision"])
    threshold = float(esc_cfg.get("confidenceThreshold", DEFAULT_THRESHOLD))
    if decision.escalate or decision.confidence < threshold:
        runs.set_outcome(recorded["id"], "escalated")
        # The model's own handover line when it chose to escalate; when merely unsure, its answer
        # may be wrong, so the customer gets the holding message instead.
        text = decision.reply if decision.escalate and decision.reply.strip() else holding
        skills = (esc_cfg.get("skillsByIntent") or {}).get(decision.intent) or ()
        return _handover(workspace_id, conversation_id, channel, message_id, text,
                         reason="intent" if decision.escalate else "low_confidence",
                         detail=decision.reason or decision.intent, skills=skills, cfg=cfg)
    # An agent may have taken over while the model was thinking: check again right before sending.
    if not bot_may_answer(bot_cfg, ConversationRepository(workspace_id).get(conversation_id)):
        return {"skipped": "bot_paused"}
    _send(workspace_id, conversation_id, channel, message_id, decision.reply or holding)
    runs.set_outcome(recorded["id"], "replied")
    return {"replied": True, "botRunId": recorded["id"]}
