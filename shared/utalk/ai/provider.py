"""The provider interface the bot calls, and the one error it raises."""
from __future__ import annotations

from typing import Literal, Protocol

from utalk.models.bot import ChatMessage, Completion


class ProviderError(Exception):
    """The LLM could not give a valid answer; `kind` becomes the escalation reason."""

    def __init__(self, kind: Literal["timeout", "error"], message: str, *, model: str = "", raw: str = ""):
        super().__init__(message)
        self.kind = kind
        self.model = model
        self.raw = raw


class Provider(Protocol):
    name: str
    model: str

    def complete(self, messages: list[ChatMessage], *, max_tokens: int, timeout: float) -> Completion:
        """Answer the conversation in `messages` (system prompt first) with a validated decision,
        in at most `max_tokens` completion tokens, each attempt within `timeout` seconds."""
        ...
