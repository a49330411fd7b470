"""Bot models: the LLM's structured decision, the BotRun record and the bot-run task payload."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from utalk.models.common import MessageTask, Output, Timestamp


class BotDecision(BaseModel):
    """What the model must answer (validated; anything else is a provider error)."""
    model_config = ConfigDict(extra="ignore")

    reply: str = Field(default="", max_length=4096)
    intent: str = Field(default="unknown", max_length=100)
    confidence: float = Field(ge=0.0, le=1.0)
    escalate: bool = False
    reason: str | None = Field(default=None, max_length=500)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Completion(BaseModel):
    """One provider call: the validated decision plus what BotRun records about it."""
    decision: BotDecision
    provider: str
    model: str
    raw: str
    tokens_in: int = 0
    tokens_out: int = 0


class BotRunTask(MessageTask):
    """Body of a `bot_run` Cloud Task: one inbound message to answer. A run its workspace's AI
    limits delayed is enqueued again with `delays` + 1, and `admitted` once it has counted in a
    request window (it then waits only for a concurrency slot)."""
    admitted: bool = False
    delays: int = Field(default=0, ge=0, le=100_000)


class BotRun(Output):
    """`workspaces/{ws}/botRuns/{id}`: one LLM call, as the spec records it."""
    id: str
    workspaceId: str
    conversationId: str
    messageId: str
    provider: str
    model: str
    prompt: list[ChatMessage]
    response: str | None = None
    decision: BotDecision | None = None
    outcome: Literal["replied", "escalated", "failed"] | None = None
    error: str | None = None
    tokensIn: int = 0
    tokensOut: int = 0
    durationMs: int = 0
    delays: int = 0                     # times the workspace's AI limits delayed it first
    costUsd: float = 0.0
    createdAt: Timestamp | None = None


class BotResumedPayload(Output):
    conversationId: str
    escalationId: str | None = None
    by: str | None = None
