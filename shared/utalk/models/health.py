"""What the health endpoints answer."""
from __future__ import annotations

from typing import Literal

from utalk.models.common import Output


class Health(Output):
    status: Literal["ok"]
    env: str


class Check(Output):
    name: str
    status: Literal["ok", "error"]
    latencyMs: float
    error: str | None = None


class HealthDetailed(Output):
    """200 when every dependency answers, 503 (same body) when one does not."""
    status: Literal["ok", "degraded"]
    checks: list[Check]


class HealthServices(Output):
    services: dict[str, str]
