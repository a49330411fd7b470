"""Channels: a workspace's provider numbers/pages and the request bodies that manage them.

Credentials are write-only: requests carry them (`credentials`, `PUT .../credentials`), responses
only say, per named field, whether it is set and when it was last rotated.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from utalk.models.common import Input, Output, Timestamp

ChannelType = Literal["whatsapp"]
Provider = Literal["twilio", "sandbox"]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SECRET = re.compile(r"^[\x21-\x7e]{16,512}$")
# The named credentials a channel of each provider holds (sealed: channels/credentials.py).
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {"twilio": ("authToken",), "sandbox": ("authToken",)}


def _account_sid(v: str | None) -> str | None:
    if v is not None and not ACCOUNT_SID.match(v):
        raise ValueError("must be a Twilio account SID (AC + 32 hex)")
    return v


class ChannelCredentials(Input):
    """Provider secrets as an admin submits them: write-only, never returned."""
    authToken: SecretStr | None = None

    @field_validator("authToken")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not _SECRET.match(v.get_secret_value()):
            raise ValueError("must be 16 to 512 printable characters without spaces")
        return v

    def values(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self if isinstance(value, SecretStr)}


class CreateChannel(Input):
    type: ChannelType = "whatsapp"
    name: str = Field(min_length=1, max_length=100)
    phoneNumber: str
    provider: Provider | None = None          # default: sandbox in local/test, twilio elsewhere
    accountSid: str | None = None             # Twilio account (not a secret)
    credentials: ChannelCredentials | None = None

    @field_validator("phoneNumber")
    @classmethod
    def _phone(cls, v: str) -> str:
        v = v.removeprefix("whatsapp:")
        if not E164.match(v):
            raise ValueError("must be an E.164 phone number like +14155238886")
        return v

    _sid = field_validator("accountSid")(_account_sid)

    @model_validator(mode="after")
    def _twilio_needs_account(self):
        if self.provider == "twilio":
            if not self.accountSid:
                raise ValueError("accountSid is required for provider twilio")
            if not (self.credentials and self.credentials.authToken):
                raise ValueError("credentials.authToken is required for provider twilio")
        return self


class UpdateCredentials(ChannelCredentials):
    """`PUT /channels/{id}/credentials`: new secrets, and for Twilio optionally the account that
    now holds the number (its ownership is proven again with them)."""
    accountSid: str | None = None

    _sid = field_validator("accountSid")(_account_sid)


class UpdateChannel(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    status: Literal["active", "disabled"] | None = None


class CredentialState(Output):
    set: bool
    rotatedAt: Timestamp | None = None


class Channel(Output):
    id: str
    workspaceId: str
    type: ChannelType
    name: str
    address: str
    provider: Provider
    accountSid: str | None = None
    status: Literal["active", "disabled"] = "active"
    disabledReason: Literal["deactivated", "transferred"] | None = None
    credentials: dict[str, CredentialState] = {}
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None

    @model_validator(mode="after")
    def _every_field(self):
        # Fields never submitted (or taken away by a transfer) read as not set.
        self.credentials = {name: self.credentials.get(name) or CredentialState(set=False)
                            for name in CREDENTIAL_FIELDS[self.provider]}
        return self
