"""OpenAI through the official client (Chat Completions with a JSON-schema response format).

OPENAI_BASE_URL is honoured (the client reads it; we pass it explicitly too) so any
OpenAI-compatible server works. Each call gets the workspace's completion-token cap and timeout
(ai/limits.py: `settings.ai`, under the instance ceiling UTALK_AI_TIMEOUT_SECONDS); retries on
transient errors (connection errors, timeouts, 408/409/429/5xx: the client's own retry policy),
each with that timeout, are UTALK_AI_MAX_RETRIES (2).
"""
from __future__ import annotations

import os
import threading

import openai
from pydantic import ValidationError

from utalk.ai.provider import ProviderError
from utalk.models.bot import BotDecision, ChatMessage, Completion

DEFAULT_MODEL = "gpt-4o-mini"
_SCHEMA = {
    "name": "bot_decision",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reply", "intent", "confidence", "escalate", "reason"],
        "properties": {
            "reply": {"type": "string"},
            "intent": {"type": "string"},
            "confidence": {"type": "number"},
            "escalate": {"type": "boolean"},
            "reason": {"type": ["string", "null"]},
        },
    },
}
_clients: dict[str, openai.OpenAI] = {}
_lock = threading.Lock()


def _client() -> openai.OpenAI:
    """One client per instance (connection pool reused across invocations)."""
    key = "default"
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = openai.OpenAI(
                    api_key=os.environ.get("OPENAI_API_KEY") or None,
                    base_url=os.environ.get("OPENAI_BASE_URL") or None,
                    timeout=float(os.environ.get("UTALK_AI_TIMEOUT_SECONDS", "30")),
                    max_retries=int(os.environ.get("UTALK_AI_MAX_RETRIES", "2")))
    return client


class OpenAIProvider:
    name = "openai"

    def __init__(self, model: str | None = None):
        self.model = model or os.environ.get("UTALK_OPENAI_MODEL") or DEFAULT_MODEL

    def complete(self, messages: list[ChatMessage], *, max_tokens: int, timeout: float) -> Completion:
        try:
            resp = _client().chat.completions.create(
                model=self.model, messages=[m.model_dump() for m in messages], temperature=0.2,
                response_format={"type": "json_schema", "json_schema": _SCHEMA},
                max_completion_tokens=max_tokens, timeout=timeout)
        except openai.APITimeoutError as exc:
            raise ProviderError("timeout", f"LLM timed out: {exc}", model=self.model) from None
        except openai.OpenAIError as exc:  # status errors after retries, connection errors, auth
            raise ProviderError("error", f"LLM call failed: {type(exc).__name__}: {exc}", model=self.model) from None
        raw = (resp.choices[0].message.content or "") if resp.choices else ""
        try:
            decision = BotDecision.model_validate_json(raw)
        except ValidationError as exc:
            raise ProviderError("error", f"LLM answer is not a valid decision: {exc.error_count()} errors",
                                model=resp.model or self.model, raw=raw) from None
        usage = resp.usage
        return Completion(decision=decision, provider=self.name, model=resp.model or self.model, raw=raw,
                          tokens_in=usage.prompt_tokens if usage else 0,
                          tokens_out=usage.completion_tokens if usage else 0)
