"""What every channel adapter takes and returns, and the two kinds of send failure."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outbound:
    workspace_id: str
    conversation_id: str
    message_id: str
    to: str                                   # customer address, e.g. +5215512345678
    from_: str                                # our channel address
    text: str | None = None
    media_urls: tuple[str, ...] = ()
    location: dict | None = None
    content_sid: str | None = None
    content_variables: dict = field(default_factory=dict)
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    status: str                               # provider's status at acceptance (queued, accepted, sent)


class SendError(Exception):
    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message, self.code = message, code


class TransientSendError(SendError):
    """Worth retrying: provider 5xx or 429, timeouts, connection failures."""


class PermanentSendError(SendError):
    """Retrying cannot help: invalid number, unapproved template, auth failure..."""
