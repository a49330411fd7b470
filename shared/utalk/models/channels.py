"""Channels: a workspace's provider numbers/pages and the request bodies that create them."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from utalk.models.common import Input, Output, Timestamp

ChannelType = Literal["whatsapp"]
Provider = Literal["twilio", "sandbox"]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class CreateChannel(Input):
    type: ChannelType = "whatsapp"
    name: str = Field(min_length=1, max_length=100)
    phoneNumber: str
    provider: Provider | None = None          # default: twilio when configured, else sandbox
    accountSid: str | None = None             # Twilio account (not a secret)
    # Credentials by reference only: the name of the secret (an env var in functions) holding the
    # auth token. Never the token itself.
    authTokenRef: str = "TWILIO_AUTH_TOKEN"

    @field_validator("phoneNumber")
    @classmethod
    def _phone(cls, v: str) -> str:
        v = v.removeprefix("whatsapp:")
        if not E164.match(v):
            raise ValueError("must be an E.164 phone number like +14155238886")
        return v

    @field_validator("accountSid")
    @classmethod
    def _sid(cls, v):
        if v is not None and not re.fullmatch(r"AC[0-9a-fA-F]{32}", v):
            raise ValueError("must be a Twilio account SID (AC + 32 hex)")
        return v

    @field_validator("authTokenRef")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not _ENV_NAME.match(v):
            raise ValueError("must be a secret name like TWILIO_AUTH_TOKEN")
        return v

    @model_validator(mode="after")
    def _twilio_needs_account(self):
        if self.provider == "twilio" and not self.accountSid:
            raise ValueError("accountSid is required for provider twilio")
        return self


class Channel(Output):
    id: str
    workspaceId: str
    type: ChannelType
    name: str
    address: str
    provider: Provider
    accountSid: str | None = None
    authTokenRef: str
    status: Literal["active", "disabled"] = "active"
    createdAt: Timestamp | None = None
