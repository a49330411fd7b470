"""Price table (USD per 1M tokens, input/output) used to put a cost on every BotRun."""
from __future__ import annotations

# OpenAI list prices; unknown models cost 0 rather than a guess, and the run says which model it was.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
    "offline": (0.0, 0.0),
}


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    price = PRICES_PER_MILLION.get(model)
    if price is None:
        # Dated snapshots ("gpt-4o-mini-2024-07-18") are priced as their family.
        price = next((p for name, p in sorted(PRICES_PER_MILLION.items(), key=lambda kv: -len(kv[0]))
                      if model.startswith(name + "-")), (0.0, 0.0))
    return round((tokens_in * price[0] + tokens_out * price[1]) / 1_000_000, 8)
