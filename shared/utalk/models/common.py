"""Shared model pieces: camelCase wire names, ISO 8601 UTC timestamps, strict inputs."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str, when_used="json")]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, not silently ignored."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MessageTask(BaseModel):
    """Body of a Cloud Task about one stored inbound message (bot run, unanswered timeout)."""
    model_config = ConfigDict(extra="forbid")

    workspaceId: str = Field(min_length=1, max_length=200)
    conversationId: str = Field(min_length=1, max_length=300)
    messageId: str = Field(min_length=1, max_length=200)
