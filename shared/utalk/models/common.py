"""Shared model pieces: camelCase wire names, ISO 8601 UTC timestamps, strict inputs."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str, when_used="json"),
                      WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, not silently ignored."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


T = TypeVar("T")


class Page(Output, Generic[T]):
    """A list response: one page of items and the cursor of the next (absent or null: the last page)."""
    items: list[T]
    nextCursor: str | None = None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _document_id(value: str) -> str:
    """What Firestore accepts as one path segment (no "/", not "." or "..", not "__...__")."""
    if "/" in value or value in (".", "..") or (value.startswith("__") and value.endswith("__")) \
            or any(ord(c) < 32 for c in value):
        raise ValueError("not a document id")
    return value


# A client's UUID v4 in its canonical form, any case (crypto.randomUUID(), str(uuid.uuid4())): the
# idempotency key of a sent message, stated in the contract so generated clients send one.
UUID4 = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"

# An id that names one document: what task bodies and message attributes carry.
DocId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_document_id)]


def valid_skills(values) -> list[str]:
    """Skills given in a request, in their stored form (utalk.text.normalise_skills); each 1-40 of
    letters, digits, "-" and "_" (a blank one is refused, not dropped)."""
    from utalk.text import normalise_skills

    if any(not str(s).strip() for s in values):
        raise ValueError("invalid skill ''")
    cleaned = normalise_skills(values)
    for s in cleaned:
        if len(s) > 40 or not all(c.isalnum() or c in "-_" for c in s):
            raise ValueError(f"invalid skill {s!r}")
    return cleaned


Skills = Annotated[list[str], Field(max_length=20), AfterValidator(valid_skills)]


class MessageTask(BaseModel):
    """Body of a Cloud Task (and attributes of a Pub/Sub message) about one stored message."""
    model_config = ConfigDict(extra="forbid")

    workspaceId: DocId
    conversationId: DocId
    messageId: DocId
