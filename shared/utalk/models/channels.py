"""Channels: a workspace's provider numbers/pages and the request bodies that manage them.

A WhatsApp channel is a phone number (Twilio, or the local sandbox); a Facebook channel is a Page
(`pageId`) of the workspace's own Meta app (`appId`), on the Messenger Platform or the sandbox.
A web channel is a chat widget on the workspace's own sites: a public `channelKey` (its address,
made by the server), the `allowedOrigins` that may embed it, its `widget` texts and an optional
`identitySecret` (the host site signs logged-in visitors' identifiers with it: docs/webchat.md).
Credentials are write-only: requests carry them (`credentials`, `PUT .../credentials`), responses
only say, per named field, whether it is set and when it was last rotated.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from utalk.models.common import Input, Output, Timestamp

ChannelType = Literal["whatsapp", "facebook", "web"]
Provider = Literal["twilio", "messenger", "sandbox", "web"]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
META_ID = re.compile(r"^[1-9]\d{4,24}$")     # Page and app ids: numeric strings
_SECRET = re.compile(r"^[\x21-\x7e]{16,512}$")
MESSENGER_FIELDS = ("pageToken", "appSecret", "verifyToken")
# An origin as browsers send it: scheme, host, optional port; no path, no trailing slash.
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:\d{1,5})?$")
MAX_ORIGINS = 20
# The named credentials a channel of each type and provider holds (sealed: channels/credentials.py).
CREDENTIAL_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("whatsapp", "twilio"): ("authToken",), ("whatsapp", "sandbox"): ("authToken",),
    ("facebook", "messenger"): MESSENGER_FIELDS, ("facebook", "sandbox"): MESSENGER_FIELDS,
    ("web", "web"): ("identitySecret",),
}
# Fields a channel may go without (a web channel without identity verification).
OPTIONAL_FIELDS = frozenset({"identitySecret"})
# The providers of each channel type; the first is the default outside local/test.
PROVIDERS: dict[str, tuple[str, ...]] = {"whatsapp": ("twilio", "sandbox"), "facebook": ("messenger", "sandbox"),
                                         "web": ("web",)}


def _account_sid(v: str | None) -> str | None:
    if v is not None and not ACCOUNT_SID.match(v):
        raise ValueError("must be a Twilio account SID (AC + 32 hex)")
    return v


def _meta_id(v: str | None) -> str | None:
    if v is not None and not META_ID.match(v):
        raise ValueError("must be a numeric Facebook id")
    return v


# The field validators' own patterns, stated in the contract too (so generated input can pass them).
def _secret_field():
    return Field(default=None, json_schema_extra={"pattern": _SECRET.pattern})


class ChannelCredentials(Input):
    """Provider secrets as an admin submits them: write-only, never returned. Twilio: the account's
    authToken. Messenger: the Page access token, the app secret (it signs the webhooks) and the
    verify token of the app's webhook subscription."""
    authToken: SecretStr | None = _secret_field()
    pageToken: SecretStr | None = _secret_field()
    appSecret: SecretStr | None = _secret_field()
    verifyToken: SecretStr | None = _secret_field()
    identitySecret: SecretStr | None = _secret_field()   # web: HMAC key of identified visitors (shared with the host site)

    @field_validator("authToken", "pageToken", "appSecret", "verifyToken", "identitySecret")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not _SECRET.match(v.get_secret_value()):
            raise ValueError("must be 16 to 512 printable characters without spaces")
        return v

    def values(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self if isinstance(value, SecretStr)}


class WidgetTexts(Input):
    """What the widget says (the business's words, shown as text, never as HTML)."""
    title: str = Field(default="Chat", min_length=1, max_length=60)
    greeting: str | None = Field(default=None, max_length=300)
    placeholder: str = Field(default="Write a message…", min_length=1, max_length=80)


def _origins(v: list[str] | None) -> list[str] | None:
    if v is None:
        return v
    bad = [o for o in v if not ORIGIN.match(o)]
    if bad:
        raise ValueError("origins are like https://shop.example.com (scheme, host, optional port)")
    return sorted({o.lower() for o in v})


class CreateChannel(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Ventas", "phoneNumber": "+14155238886", "provider": "sandbox"}, {"type": "facebook", "name": "Página", "pageId": "1234567890", "provider": "sandbox"}]})

    type: ChannelType = "whatsapp"
    name: str = Field(min_length=1, max_length=100)
    phoneNumber: str | None = Field(default=None, json_schema_extra={"pattern": r"^(whatsapp:)?\+[1-9]\d{6,14}$"})   # WhatsApp
    pageId: str | None = Field(default=None, json_schema_extra={"pattern": META_ID.pattern})   # Facebook
    provider: Provider | None = None          # default: sandbox in local/test, else twilio / messenger
    accountSid: str | None = Field(default=None, json_schema_extra={"pattern": ACCOUNT_SID.pattern})   # Twilio account (not a secret)
    appId: str | None = Field(default=None, json_schema_extra={"pattern": META_ID.pattern})   # Meta app (not a secret): tells our own echoes apart
    allowedOrigins: list[str] | None = Field(default=None, max_length=MAX_ORIGINS)   # web
    widget: WidgetTexts | None = None         # web
    credentials: ChannelCredentials | None = None

    _web_origins = field_validator("allowedOrigins")(_origins)

    @field_validator("phoneNumber")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.removeprefix("whatsapp:")
        if not E164.match(v):
            raise ValueError("must be an E.164 phone number like +14155238886")
        return v

    _sid = field_validator("accountSid")(_account_sid)
    _ids = field_validator("pageId", "appId")(_meta_id)

    @property
    def address(self) -> str | None:
        return self.phoneNumber if self.type == "whatsapp" else self.pageId   # web: the server makes its key

    @model_validator(mode="after")
    def _fits_its_type(self):
        if self.type == "web":
            if self.phoneNumber or self.pageId or self.appId or self.accountSid:
                raise ValueError("a web channel has no phoneNumber, pageId, appId or accountSid")
            if not self.allowedOrigins:
                raise ValueError("allowedOrigins is required for a web channel")
            if self.provider not in (None, "web"):
                raise ValueError("provider must be web for web channels")
            given = self.credentials.values() if self.credentials else {}
            if set(given) - {"identitySecret"}:
                raise ValueError("credentials of a web channel are identitySecret")
            return self
        if self.allowedOrigins is not None or self.widget is not None:
            raise ValueError("allowedOrigins and widget are for web channels")
        whatsapp = self.type == "whatsapp"
        if not (self.phoneNumber if whatsapp else self.pageId):
            raise ValueError("phoneNumber is required for WhatsApp" if whatsapp else "pageId is required for Facebook")
        if (self.pageId or self.appId) if whatsapp else (self.phoneNumber or self.accountSid):
            raise ValueError("pageId/appId are for Facebook channels, phoneNumber/accountSid for WhatsApp")
        if self.provider and self.provider not in PROVIDERS[self.type]:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS[self.type])} for {self.type}")
        fields = CREDENTIAL_FIELDS[(self.type, self.provider or "sandbox")]
        given = self.credentials.values() if self.credentials else {}
        if set(given) - set(fields):
            raise ValueError(f"credentials of a {self.type} channel are {', '.join(fields)}")
        if self.provider == "twilio":
            if not self.accountSid:
                raise ValueError("accountSid is required for provider twilio")
            if "authToken" not in given:
                raise ValueError("credentials.authToken is required for provider twilio")
        if self.provider == "messenger":
            if not self.appId:
                raise ValueError("appId is required for provider messenger")
            if set(fields) - set(given):
                raise ValueError(f"credentials {', '.join(fields)} are required for provider messenger")
        return self


class UpdateCredentials(ChannelCredentials):
    """`PUT /channels/{id}/credentials`: new secrets, and for Twilio optionally the account that
    now holds the number (its ownership is proven again with them)."""
    accountSid: str | None = None

    _sid = field_validator("accountSid")(_account_sid)


class UpdateChannel(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Soporte", "status": "disabled"}]})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    status: Literal["active", "disabled"] | None = None
    allowedOrigins: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ORIGINS)   # web
    widget: WidgetTexts | None = None                                                              # web

    _web_origins = field_validator("allowedOrigins")(_origins)


class CredentialState(Output):
    set: bool
    rotatedAt: Timestamp | None = None


class Channel(Output):
    id: str
    workspaceId: str
    type: ChannelType
    name: str
    address: str                               # the phone number, the Page id, or the web channel's key
    provider: Provider
    accountSid: str | None = None
    pageId: str | None = None
    appId: str | None = None
    channelKey: str | None = None              # web: the public key the widget's <script> tag names
    allowedOrigins: list[str] | None = None
    widget: dict | None = None
    status: Literal["active", "disabled"] = "active"
    disabledReason: Literal["deactivated", "transferred"] | None = None
    credentials: dict[str, CredentialState] = {}
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None

    @model_validator(mode="after")
    def _every_field(self):
        # Fields never submitted (or taken away by a transfer) read as not set.
        self.credentials = {name: self.credentials.get(name) or CredentialState(set=False)
                            for name in CREDENTIAL_FIELDS[(self.type, self.provider)]}
        return self
