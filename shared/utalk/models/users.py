"""Users, agent profiles and the auth request/response bodies."""
from __future__ import annotations

from typing import Literal

import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema

from utalk.models.common import Input, Output, Skills, Timestamp

Role = Literal["admin", "agent", "bot", "service"]
UserStatus = Literal["active", "inactive", "banned"]
AgentStatus = Literal["online", "offline", "busy"]
# No "/" in the local part (RFC 5322 allows it): the login index `emails/{email}` is keyed by the
# address, and Firestore reads "/" as a sub-path.
_EMAIL = re.compile(r"^[^@\s/]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email", "maxLength": 254,
                                                                "pattern": "^[^@\\s/]+@"})]


class AgentProfileIn(Input):
    status: AgentStatus | None = None
    maxConversations: int | None = Field(default=None, ge=1, le=100)
    skills: Skills | None = None


class AgentProfile(Output):
    status: AgentStatus = "offline"
    maxConversations: int = 10
    currentConversations: int = 0
    skills: list[str] = []


class User(Output):
    id: str
    email: str
    name: str = ""
    role: Role
    workspaceId: str
    tenantId: str
    status: UserStatus = "active"
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None
    lastLogin: Timestamp | None = None
    agent: AgentProfile | None = None


class CreateUser(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ana@example.com", "password": "correct-horse-battery", "name": "Ana", "role": "agent", "agent": {"maxConversations": 5, "skills": ["sales"]}}]})

    email: Email
    password: str = Field(min_length=8, max_length=256)
    name: str = Field(default="", max_length=120)
    role: Role = "agent"
    agent: AgentProfileIn | None = None


class UpdateUser(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Ana María", "agent": {"status": "online"}}]})

    name: str | None = Field(default=None, max_length=120)
    role: Role | None = None
    status: UserStatus | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    agent: AgentProfileIn | None = None


class UserQuery(Input):
    role: Role | None = None
    status: UserStatus | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class LoginIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "admin@example.com", "password": "correct-horse-battery"}]})

    email: Email
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refreshToken": "rt_6f1c2b0e9a8d4c3b"}]})

    refreshToken: str = Field(min_length=10, max_length=512)


class FirebaseToken(Output):
    token: str
    expiresIn: int


class Tokens(Output):
    token: str
    refreshToken: str
    tokenType: str = "Bearer"
    expiresIn: int
    user: User
