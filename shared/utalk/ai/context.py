"""Builds the chat context for a bot run: system prompt plus recent messages within a token budget."""
from __future__ import annotations

from utalk.ai.limits import AiLimits
from utalk.models.bot import ChatMessage

TOKEN_BUDGET = AiLimits().context_tokens   # the default limits' share of a request for the context
_PER_MESSAGE_OVERHEAD = 4    # role and separators, as the chat format counts them

OUTPUT_CONTRACT = (
    "Answer ONLY with a JSON object: {\"reply\": string (your answer to the customer, in their "
    "language), \"intent\": string (short label of what the customer wants), \"confidence\": number "
    "0..1, \"escalate\": boolean (true when a human agent should take over), \"reason\": string or "
    "null (why you escalate)}."
)
DEFAULT_SYSTEM_PROMPT = ("You are the customer-service assistant of this business. Be brief, friendly and "
                         "accurate; never invent prices, policies or data you were not given.")


def estimate_tokens(text: str) -> int:
    """~4 characters per token: close enough for a budget, and free of a tokenizer download."""
    return len(text) // 4 + 1


def build(system_prompt: str | None, history: list[dict], budget: int = TOKEN_BUDGET) -> list[ChatMessage]:
    """`history` is stored messages oldest first; the newest ones that fit the budget are kept."""
    system = ChatMessage(role="system", content=f"{system_prompt or DEFAULT_SYSTEM_PROMPT}\n\n{OUTPUT_CONTRACT}")
    left = budget - estimate_tokens(system.content) - _PER_MESSAGE_OVERHEAD
    kept: list[ChatMessage] = []
    for msg in reversed(history):
        text = (msg.get("text") or "").strip() or (f"[{msg.get('type')}]" if msg.get("type") else "")
        if not text:
            continue
        cost = estimate_tokens(text) + _PER_MESSAGE_OVERHEAD
        if cost > left:
            if not kept:  # the newest message alone is too long: send its beginning, never nothing
                kept.append(ChatMessage(role="user" if msg.get("direction") == "inbound" else "assistant",
                                        content=text[:max(0, left - _PER_MESSAGE_OVERHEAD) * 4]))
            break
        left -= cost
        role = "user" if msg.get("direction") == "inbound" else "assistant"
        kept.append(ChatMessage(role=role, content=text))
    return [system, *reversed(kept)]
