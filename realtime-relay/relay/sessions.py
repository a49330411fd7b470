"""What the relay remembers about each connected socket (in this instance's memory only)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from utalk.auth.tokens import Principal

from .rate_limit import TokenBucket


@dataclass(eq=False)
class Session:
    principal: Principal
    limiter: TokenBucket
    conversations: set[str] = field(default_factory=set)
    expiry: asyncio.TimerHandle | None = None

    @property
    def workspace_id(self) -> str:
        return self.principal.workspace_id

    @property
    def user_id(self) -> str:
        return self.principal.user_id


class Sessions(dict[str, Session]):
    """sid -> Session. A plain dict: every access happens on the event loop thread."""
