"""Analytics recording (docs/analytics.md): each event the chain already handles becomes, once,
counter increments on a daily shard and, for a conversation, facts in its `analytics` map.

Called from the chained handlers with what they have just read (the conversation, the message,
the escalation, the BotRun), never from the inbound webhook. Every function is safe to repeat:
the event key names the fact (`opened:<conv>:<episode>`, `out:<message>` ...), and the repository
counts a key once. Times are the stored ones (epoch seconds in the facts), so a late redelivery
measures the same durations.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from datetime import time as midnight

from google.cloud import firestore

from utalk import clock, logs
from utalk.repositories.analytics import AnalyticsRepository
from utalk.services import business_hours
from utalk.services.business_hours import zone

log = logs.get("analytics")

# Upper bounds (seconds) of the duration buckets; a duration above the last is "inf".
BUCKETS = (5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
           10800, 14400, 21600, 28800, 43200, 86400, 172800, 259200, 604800)
DURATIONS = ("frt_in", "frt_out", "fhrt", "resolution", "queue", "latency")
MAX_SPAN_DAYS = 400     # a hold or a presence longer than this counts its first 400 days
_SETTINGS_TTL = 300.0
_settings_cache: dict[str, tuple[float, dict]] = {}
_KEY = re.compile(r"[^A-Za-z0-9_-]")


def bucket_label(seconds: float) -> str:
    return next((str(b) for b in BUCKETS if seconds <= b), "inf")


def duration(name: str, seconds: float) -> dict:
    seconds = max(0.0, float(seconds))
    return {f"{name}.n": 1, f"{name}.sum": seconds, f"{name}.b.{bucket_label(seconds)}": 1}


def field_key(value: str | None) -> str:
    """A model name or reason as one field-path segment (no dots, no spaces)."""
    return _KEY.sub("_", value or "unknown")[:100] or "unknown"


def epoch(value) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def settings_of(workspace_id: str, cfg: dict | None = None) -> dict:
    """The workspace settings analytics needs (time zone, business hours), cached per instance for
    a few minutes: the sender would otherwise read them for every message it sends."""
    now = time.monotonic()
    if cfg is not None:
        _settings_cache[workspace_id] = (now, cfg)
        return cfg
    hit = _settings_cache.get(workspace_id)
    if hit and now - hit[0] < _SETTINGS_TTL:
        return hit[1]
    from utalk.repositories.workspaces import workspace_settings
    return settings_of(workspace_id, workspace_settings(workspace_id))


def day_of(cfg: dict, at: float | datetime) -> str:
    moment = at if isinstance(at, datetime) else datetime.fromtimestamp(at, timezone.utc)
    return moment.astimezone(zone(cfg)).date().isoformat()


def in_business_hours(cfg: dict, at: float) -> bool:
    """Whether `at` (epoch seconds) is inside the workspace's business hours (True when disabled)."""
    return business_hours.is_open(cfg, datetime.fromtimestamp(at, timezone.utc))


def _facts(conv: dict) -> dict:
    return conv.get("analytics") or {}


def by_day(cfg: dict, start: float, end: float) -> list[tuple[str, float]]:
    """The span [start, end) (epoch seconds) cut at the workspace's midnights: (day, seconds)
    in order; at most MAX_SPAN_DAYS of them (a batch holds 500 writes)."""
    tz, out, at = zone(cfg), [], start
    while at < end and len(out) < MAX_SPAN_DAYS:
        local = datetime.fromtimestamp(at, tz)
        cut = min(end, datetime.combine(local.date() + timedelta(days=1), midnight(), tz).timestamp())
        out.append((local.date().isoformat(), cut - at))
        at = cut
    return out


def _record(ws: str, key: str, at: float, channel, agent, counts: dict, conv_id=None, facts=None,
            cfg: dict | None = None) -> bool:
    done = AnalyticsRepository(ws).record(key, day_of(cfg or settings_of(ws), at), channel, agent, counts,
                                          conv_id, facts)
    if done:
        log.info("analytics %s", key.split(":")[0], extra={"workspaceId": ws, "analyticsKey": key})
    return done


# -- conversations -------------------------------------------------------------------------------
def customer_message(ws: str, conv: dict, message_id: str, cfg: dict | None = None) -> bool:
    """`bot_dispatch`, per inbound message: the episode's first customer message opens it (the
    message is read only then). Customer message counts need nothing here (docs/analytics.md)."""
    facts = _facts(conv)
    if facts.get("openedAt") is not None:
        return False
    from utalk.repositories.messages import MessageRepository
    message = MessageRepository(ws).get(conv["id"], message_id) or {}
    at = epoch(message.get("createdAt")) or epoch(conv.get("createdAt")) or clock.now().timestamp()
    cfg = settings_of(ws, cfg)
    episode = int(facts.get("episode") or 0)
    return _record(ws, f"opened:{conv['id']}:{episode}", at, conv.get("channel"), None, {"opened": 1},
                   conv["id"], {"episode": episode, "openedAt": at, "openedInHours": in_business_hours(cfg, at)},
                   cfg)


def conversation_reopened(ws: str, conv: dict, at: datetime | None = None) -> bool:
    """The hook for `conversation:updated` reason `reopened` (wave/lifecycle calls it where it
    reopens a closed conversation): counts the reopen and starts the next episode, whose first
    response, escalation and resolution are measured afresh from `at` (the reopening message)."""
    moment = epoch(at) or clock.now().timestamp()
    cfg = settings_of(ws)
    episode = int(_facts(conv).get("episode") or 0) + 1
    cleared = {name: firestore.DELETE_FIELD for name in ("escalatedAt", "firstResponseAt", "firstHumanAt",
                                                           "closedAt", "agentId", "acceptedAt", "heldBy")}
    return _record(ws, f"reopened:{conv['id']}:{episode}", moment, conv.get("channel"), None, {"reopened": 1},
                   conv["id"], {**cleared, "episode": episode, "openedAt": moment,
                                "openedInHours": in_business_hours(cfg, moment)}, cfg)


def conversation_closed(ws: str, conv: dict, closed_at: datetime) -> bool:
    """The close (`services/conversations.set_status`), with the conversation as it was before:
    resolution time from the episode's opening, and whether the bot contained it (no escalation)."""
    facts = _facts(conv)
    at = closed_at.timestamp()
    hold_ended(ws, conv, at)       # before the close's own facts: its key is its own
    counts = {"closed": 1, "contained": 0 if facts.get("escalatedAt") is not None else 1}
    if facts.get("openedAt") is not None:
        counts.update(duration("resolution", at - facts["openedAt"]))
    return _record(ws, f"closed:{conv['id']}:{int(facts.get('episode') or 0)}", at, conv.get("channel"),
                   conv.get("assignedAgent"), counts, conv["id"], {"closedAt": at})


# -- messages out (the sender) -------------------------------------------------------------------
def outbound_message(ws: str, conv: dict, message: dict) -> None:
    """The sender, on claiming a bot or agent message: count it, and measure the episode's first
    response and (for an agent after an escalation) its first human response."""
    sender = message.get("senderType")
    if sender not in ("bot", "agent"):
        return
    at = epoch(message.get("createdAt")) or clock.now().timestamp()
    agent = message.get("senderId") if sender == "agent" else None
    channel, conv_id, facts = conv.get("channel"), conv["id"], _facts(conv)
    episode = int(facts.get("episode") or 0)
    _record(ws, f"out:{message['id']}", at, channel, agent, {f"out.{sender}": 1})
    opened = facts.get("openedAt")
    if opened is not None and facts.get("firstResponseAt") is None and at >= opened:
        hist = "frt_in" if facts.get("openedInHours", True) else "frt_out"
        _record(ws, f"first_response:{conv_id}:{episode}", at, channel, agent,
                {**duration(hist, at - opened), f"frt_by.{sender}": 1}, conv_id, {"firstResponseAt": at})
    escalated = facts.get("escalatedAt")
    if sender == "agent" and escalated is not None and facts.get("firstHumanAt") is None and at >= escalated:
        _record(ws, f"first_human:{conv_id}:{episode}", at, channel, agent, duration("fhrt", at - escalated),
                conv_id, {"firstHumanAt": at})


# -- escalations and offers ----------------------------------------------------------------------
def escalation_started(ws: str, conv: dict | None, esc_id: str) -> bool:
    """A new escalation record (bot, timeout, manual): by reason; the episode's first one is the
    start of its human part (first human response, queue wait)."""
    from utalk.repositories.escalations import EscalationRepository
    esc = EscalationRepository(ws).get(esc_id)
    if esc is None or conv is None:
        return False
    at = epoch(esc.get("createdAt")) or clock.now().timestamp()
    facts = {} if _facts(conv).get("escalatedAt") is not None else {"escalatedAt": at,
                                                                    "escalationReason": esc.get("reason")}
    return _record(ws, f"escalated:{esc_id}", at, conv.get("channel"), None,
                   {"escalations": 1, f"esc.{field_key(esc.get('reason'))}": 1}, conv["id"], facts or None)


def _channel(ws: str, conv_id: str) -> str | None:
    from utalk.repositories.conversations import ConversationRepository
    return (ConversationRepository(ws).get(conv_id) or {}).get("channel")


def offered(ws: str, esc: dict, agent_id: str, channel: str | None = None) -> bool:
    return _record(ws, f"offer:{esc['id']}:{agent_id}", clock.now().timestamp(),
                   channel or _channel(ws, esc["conversationId"]), agent_id, {"offers": 1})


def rejected(ws: str, esc: dict, agent_id: str) -> bool:
    return _record(ws, f"rejected:{esc['id']}:{agent_id}", clock.now().timestamp(),
                   _channel(ws, esc["conversationId"]), agent_id, {"rejected": 1})


def accepted(ws: str, esc: dict) -> bool:
    """An agent took the escalation (accepted an offer, or took it for themselves): handled by
    them, and the queue wait from the escalation's creation to now."""
    at = epoch(esc.get("acceptedAt")) or clock.now().timestamp()
    created = epoch(esc.get("createdAt"))
    counts = {"accepted": 1, **(duration("queue", at - created) if created is not None else {})}
    agent = esc.get("toAgentId")
    return _record(ws, f"accepted:{esc['id']}", at, _channel(ws, esc["conversationId"]), agent, counts,
                   esc["conversationId"], {"agentId": agent, "acceptedAt": at, "heldBy": agent})


# -- the bot ---------------------------------------------------------------------------------------
def bot_run(ws: str, channel: str | None, run: dict) -> bool:
    """A BotRun (from `bot_run`, with the record it saved or found): runs, tokens, cost, latency,
    per model."""
    model = field_key(run.get("model"))
    tokens_in, tokens_out = int(run.get("tokensIn") or 0), int(run.get("tokensOut") or 0)
    cost, ms = float(run.get("costUsd") or 0.0), int(run.get("durationMs") or 0)
    counts = {"bot.runs": 1, "bot.failed": 0 if run.get("decision") else 1, "bot.tokensIn": tokens_in,
              "bot.tokensOut": tokens_out, "bot.costUsd": cost, "bot.latencyMs": ms,
              **duration("latency", ms / 1000), f"model.{model}.runs": 1, f"model.{model}.tokensIn": tokens_in,
              f"model.{model}.tokensOut": tokens_out, f"model.{model}.costUsd": cost,
              f"model.{model}.latencyMs": ms}
    at = epoch(run.get("createdAt")) or clock.now().timestamp()
    return _record(ws, f"botrun:{run['id']}", at, channel, None, counts)


# -- occupancy: conversations held vs capacity, over time -----------------------------------------
# A hold runs from the agent's acceptance (`analytics.acceptedAt`, `analytics.agentId` on the
# conversation, and `analytics.heldBy` while it runs: what a report queries for running holds)
# to its end (close, return to bot, transfer, withdrawal): counted when it ends, as
# `occ.held` seconds on each day it covered (the agent's own document: one write per day touched).
# Capacity runs while the agent is not offline: `occ.online` seconds and `occ.capacity` =
# maxConversations x seconds, counted at each status change for the span since the previous one.
# A report adds the spans still running (services/analytics_reports.py).
def hold_ended(ws: str, conv: dict, at: float | datetime | None, agent_id: str | None = None) -> bool:
    """The conversation's hold (by `agent_id`, if given: the one it is taken from) ended at `at`
    (a stored time where there is one). Once per hold: its key is its agent and start."""
    facts = _facts(conv)
    agent, start = facts.get("agentId"), facts.get("acceptedAt")
    if not agent or start is None or (agent_id and agent != agent_id) or (facts.get("heldUntil") or 0) >= start:
        return False
    end = epoch(at) if isinstance(at, datetime) else at if at is not None else clock.now().timestamp()
    cfg = settings_of(ws)
    parts = [(day, {"occ.held": seconds}) for day, seconds in by_day(cfg, start, max(start, end))]
    done = AnalyticsRepository(ws).record_days(f"held:{conv['id']}:{agent}:{start}", parts or
                                               [(day_of(cfg, start), {"occ.held": 0})], conv.get("channel"), agent,
                                               conv["id"], {"heldUntil": max(start, end),
                                                            "heldBy": firestore.DELETE_FIELD})
    if done:
        log.info("analytics held", extra={"workspaceId": ws, "agentId": agent})
    return done


def presence_changed(ws: str, agent_id: str, before: dict, after: dict) -> bool:
    """An agent's status was set (`after` as stored): the span since the previous setting counts
    as capacity time unless the agent was offline. Once per span: its key is its start."""
    if (before.get("status") or "offline") == "offline":
        return False
    start = epoch(before.get("statusChangedAt")) or epoch(before.get("createdAt"))
    end = epoch(after.get("statusChangedAt"))
    if start is None or end is None or end <= start:
        return False
    from utalk.repositories.agents import DEFAULT_MAX_CONVERSATIONS
    cap = int(before.get("maxConversations") or DEFAULT_MAX_CONVERSATIONS)
    parts = [(day, {"occ.online": seconds, "occ.capacity": seconds * cap})
             for day, seconds in by_day(settings_of(ws), start, end)]
    return AnalyticsRepository(ws).record_days(f"online:{agent_id}:{start}", parts, None, agent_id)
