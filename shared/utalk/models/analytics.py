"""Analytics: the report query and the reports' output (docs/analytics.md)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from utalk.models.common import Input, Output
from utalk.models.conversations import ChannelKind

MAX_DAYS = 366


class AnalyticsQuery(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    channel: ChannelKind | None = None
    agentId: str | None = Field(default=None, min_length=1, max_length=128)
    interval: Literal["day", "week"] = "day"


class Bucket(Output):
    le: float | None          # upper bound in seconds; None: above the last bound
    count: int


class Duration(Output):
    """A duration's distribution: `median`/`p90` are the upper bound of the bucket holding that
    rank (None when it is the open last bucket or there is no data); `mean` is exact."""
    n: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None
    buckets: list[Bucket] = []


class Volume(Output):
    opened: int = 0
    reopened: int = 0
    closed: int = 0
    contained: int = 0              # closed without any escalation in the episode (bot only)
    escalations: int = 0
    messagesIn: int | None = None   # customer messages (None when narrowed to an agent)
    messagesBot: int = 0
    messagesAgent: int = 0


class Offers(Output):
    offers: int = 0
    accepted: int = 0
    rejected: int = 0


class Rates(Output):
    containment: float | None = None     # contained / closed
    reopen: float | None = None          # reopened / closed
    offerAcceptance: float | None = None  # accepted / offers


class VolumePoint(Volume):
    period: str


class Range(Output):
    from_: str = Field(serialization_alias="from")
    to: str
    timeZone: str
    interval: str
    channel: str | None = None
    agentId: str | None = None


class Overview(Output):
    range: Range
    totals: Volume
    rates: Rates
    firstResponse: Duration
    firstHumanResponse: Duration
    resolution: Duration
    queueWait: Duration
    series: list[VolumePoint]


class ConversationsPoint(Output):
    period: str
    opened: int = 0
    closed: int = 0
    firstResponse: Duration
    resolution: Duration


class ConversationsReport(Output):
    range: Range
    totals: Volume
    rates: Rates
    firstResponse: Duration
    firstResponseInHours: Duration
    firstResponseOutOfHours: Duration
    firstResponseBy: dict[str, int]
    firstHumanResponse: Duration
    resolution: Duration
    queueWait: Duration
    escalationsByReason: dict[str, int]
    offers: Offers
    series: list[ConversationsPoint]


class AgentLoad(Output):
    status: str | None = None
    currentConversations: int = 0
    maxConversations: int = 0
    occupancy: float | None = None     # current / max, now


class Occupancy(Output):
    """Conversations held vs capacity over the range, in seconds (spans still running count up to
    now): a hold runs from acceptance to close / return to bot / transfer; capacity is the agent's
    maxConversations while not offline."""
    heldSeconds: float = 0
    onlineSeconds: float = 0
    capacitySeconds: float = 0
    averageHeld: float | None = None   # conversations held on average while not offline: held / online
    occupancy: float | None = None     # held / capacity


class AgentFigures(Output):
    agentId: str
    name: str | None = None
    handled: int = 0                   # escalations accepted (or taken) by the agent
    replies: int = 0
    closed: int = 0
    offers: Offers
    firstHumanResponse: Duration
    queueWait: Duration
    load: AgentLoad
    occupancy: Occupancy


class AgentPoint(Output):
    period: str
    handled: int = 0
    replies: int = 0
    closed: int = 0
    heldSeconds: float = 0
    capacitySeconds: float = 0
    occupancy: float | None = None     # held / capacity in the period


class AgentsReport(Output):
    range: Range
    agents: list[AgentFigures]
    series: list[AgentPoint]


class ModelUsage(Output):
    runs: int = 0
    tokensIn: int = 0
    tokensOut: int = 0
    costUsd: float = 0.0
    latencyMsMean: float | None = None


class BotPoint(Output):
    period: str
    runs: int = 0
    failed: int = 0
    tokensIn: int = 0
    tokensOut: int = 0
    costUsd: float = 0.0


class BotReport(Output):
    range: Range
    runs: int = 0
    failed: int = 0
    tokensIn: int = 0
    tokensOut: int = 0
    costUsd: float = 0.0
    latency: Duration
    byModel: dict[str, ModelUsage]
    containment: float | None = None
    series: list[BotPoint]
