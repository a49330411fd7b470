"""What the relay remembers about each connected socket (in this instance's memory only).

Kept small on purpose, there is one per socket: slots instead of a __dict__, and the joined
conversations as a shared empty frozenset until the first join (an empty set is 216 bytes).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from utalk.auth.tokens import Principal

from .rate_limit import TokenBucket


@dataclass(eq=False, slots=True)
class Session:
    principal: Principal
    limiter: TokenBucket
    conversations: frozenset[str] = frozenset()
    expiry: asyncio.TimerHandle | None = None
    # Sees every conversation of the workspace (relay/visibility.py), else only joined ones.
    sees_all: bool = False

    @property
    def workspace_id(self) -> str:
        return self.principal.workspace_id

    @property
    def user_id(self) -> str:
        return self.principal.user_id


class Sessions(dict[str, Session]):
    """sid -> Session. A plain dict: every access happens on the event loop thread."""
