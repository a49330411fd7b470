"""LLM providers behind one interface: OpenAI (official client) and an offline FAQ responder.

`provider_for(bot_settings)` picks one per workspace: `settings.bot.provider` may force
"openai" or "offline"; otherwise the instance default UTALK_AI_PROVIDER applies, whose default
"auto" uses OpenAI when OPENAI_API_KEY is set, else offline, so the local stack works without a
network.
"""
from __future__ import annotations

import os

from utalk.ai.provider import Provider, ProviderError


def default_provider_name() -> str:
    """The provider a workspace without its own choice gets on this instance."""
    choice = (os.environ.get("UTALK_AI_PROVIDER") or "auto").lower()
    if choice == "auto":
        return "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
    return choice


def provider_for(bot_settings: dict) -> Provider:
    choice = (bot_settings.get("provider") or "auto").lower()
    if choice == "auto":   # the workspace leaves it to the instance
        choice = default_provider_name()
    if choice == "openai":
        from utalk.ai.openai_provider import OpenAIProvider
        return OpenAIProvider(model=bot_settings.get("model"))
    from utalk.ai.offline import OfflineProvider
    return OfflineProvider(bot_settings)


__all__ = ["Provider", "ProviderError", "default_provider_name", "provider_for"]
