"""Offline provider: a deterministic responder driven by the workspace's FAQ and keywords.

Used when no OpenAI key is set (or a workspace asks for it), so the local stack answers without a
network. `settings.bot.faq` is a list of {"keywords": [...], "answer": "...", "intent": "..."};
the first entry with a keyword in the message wins. Greetings get the greeting; anything else
gets the fallback text with a low confidence, which the escalation threshold turns into a handover.
"""
from __future__ import annotations

import json

from utalk.ai.context import estimate_tokens
from utalk.models.bot import BotDecision, ChatMessage, Completion
from utalk.text import contains_any

GREETINGS = ("hola", "buenos dias", "buenas tardes", "buenas noches", "hello", "hi", "buenas")
DEFAULT_FALLBACK = "No estoy seguro de haber entendido. ¿Puedes darme más detalles?"


class OfflineProvider:
    name = "offline"
    model = "offline"

    def __init__(self, bot_settings: dict):
        self.settings = bot_settings or {}

    def decide(self, text: str) -> BotDecision:
        for entry in self.settings.get("faq") or []:
            if contains_any(text, entry.get("keywords") or []):
                return BotDecision(reply=entry.get("answer", ""), intent=entry.get("intent") or "faq",
                                   confidence=0.9)
        if contains_any(text, GREETINGS):
            return BotDecision(reply=self.settings.get("greeting") or "¡Hola! ¿En qué puedo ayudarte?",
                               intent="greeting", confidence=0.8)
        return BotDecision(reply=self.settings.get("fallback") or DEFAULT_FALLBACK, intent="unknown",
                           confidence=0.2)

    def complete(self, messages: list[ChatMessage], *, max_tokens: int = 0, timeout: float = 0) -> Completion:
        """Instant and short: the limits a real provider is given have nothing to bound here."""
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        decision = self.decide(last)
        raw = json.dumps(decision.model_dump(), ensure_ascii=False)
        return Completion(decision=decision, provider=self.name, model=self.model, raw=raw,
                          tokens_in=sum(estimate_tokens(m.content) for m in messages),
                          tokens_out=estimate_tokens(raw))
