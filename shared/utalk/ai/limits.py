"""A workspace's AI limits (`settings.ai`), with the spec's defaults, and what they mean for one call.

`requestsPerMinute` (60) and `maxConcurrent` (10) are the workspace's budget, enforced by
`services/bot_limits.py`; `maxTokensPerRequest` (4000) is split between the context sent and the
completion asked for; `timeoutSeconds` (30) bounds each provider attempt. Values out of range are
clamped rather than refused: a bad setting must not stop the bot, and the settings API validates
what admins submit.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

DEFAULTS = {"requestsPerMinute": 60, "maxConcurrent": 10, "maxTokensPerRequest": 4000, "timeoutSeconds": 30}
RANGES = {"requestsPerMinute": (1, 6000), "maxConcurrent": (1, 1000), "maxTokensPerRequest": (256, 128_000),
          "timeoutSeconds": (1, 300)}
# What the completion may use of a request's tokens: a decision is a short JSON object, so a
# quarter of the budget, at least 128 and at most 1024 tokens; the context gets the rest.
COMPLETION_SHARE, COMPLETION_MIN, COMPLETION_MAX = 4, 128, 1024
WINDOW_SECONDS = 60
# Each window counter document admits at most this many runs per window: the counter is split
# into ceil(limit / SHARD_CAPACITY) shards (services/bot_limits.py explains the hot-document arithmetic).
SHARD_CAPACITY = 12
MAX_SHARDS = 50


def _int(value, key: str) -> int:
    low, high = RANGES[key]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = DEFAULTS[key]
    return max(low, min(high, number))


@dataclass(frozen=True)
class AiLimits:
    requests_per_minute: int = DEFAULTS["requestsPerMinute"]
    max_concurrent: int = DEFAULTS["maxConcurrent"]
    max_tokens_per_request: int = DEFAULTS["maxTokensPerRequest"]
    timeout_seconds: int = DEFAULTS["timeoutSeconds"]

    @classmethod
    def from_settings(cls, workspace_settings: dict) -> "AiLimits":
        ai = (workspace_settings or {}).get("ai") or {}
        if not isinstance(ai, dict):
            ai = {}
        return cls(*(_int(ai.get(key, DEFAULTS[key]), key) for key in DEFAULTS))

    # -- one call -----------------------------------------------------------------------------
    @property
    def completion_tokens(self) -> int:
        return max(COMPLETION_MIN, min(COMPLETION_MAX, self.max_tokens_per_request // COMPLETION_SHARE))

    @property
    def context_tokens(self) -> int:
        return self.max_tokens_per_request - self.completion_tokens

    def provider_timeout(self) -> float:
        """Seconds for one provider attempt: the workspace's, under the instance's ceiling
        UTALK_AI_TIMEOUT_SECONDS (30; the test stack sets 2 so hanging fakes fail fast)."""
        ceiling = float(os.environ.get("UTALK_AI_TIMEOUT_SECONDS", "30"))
        return float(min(self.timeout_seconds, ceiling))

    # -- the rate window ----------------------------------------------------------------------
    def per_window(self, window_seconds: int) -> int:
        """Runs a window of `window_seconds` admits (the minute's budget; scaled when a local
        stack shortens the window)."""
        return max(1, round(self.requests_per_minute * window_seconds / 60))

    def shard_caps(self, window_seconds: int) -> list[int]:
        """Per-shard admissions of one window, summing to `per_window`."""
        total = self.per_window(window_seconds)
        shards = max(1, min(MAX_SHARDS, math.ceil(total / SHARD_CAPACITY)))
        base, extra = divmod(total, shards)
        return [base + (i < extra) for i in range(shards)]


def window_seconds() -> int:
    """60 s, as `requestsPerMinute` says. Only a local or test stack may shorten it
    (UTALK_AI_WINDOW_SECONDS), so tests see a window end without waiting a minute."""
    from utalk.config import settings

    raw = os.environ.get("UTALK_AI_WINDOW_SECONDS")
    if raw and settings().is_local:
        return max(1, int(raw))
    return WINDOW_SECONDS
