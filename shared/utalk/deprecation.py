"""Deprecation of routes and input fields: what their responses say, and when they go away.

A route is deprecated by its manifest row (`deprecated="YYYY-MM-DD"`, the day it was; its
`deprecation_note` names the migration note); an input field by `deprecated_field(since, note)`
in its model. Responses of a deprecated route, and of a request that used a deprecated field,
carry `X-Deprecated: true`, `Sunset` (the HTTP date six months after `since`, RFC 8594) and
`Link: <note>; rel="deprecation"`; the OpenAPI document marks both (contract/openapi.py).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from pydantic import Field

SUNSET_DAYS = 183   # six months
DEFAULT_NOTE = "/docs/api-contract.md#deprecations"


def sunset(since: str) -> date:
    return date.fromisoformat(since) + timedelta(days=SUNSET_DAYS)


def headers(since: str, note: str = DEFAULT_NOTE) -> dict[str, str]:
    day = datetime.combine(sunset(since), time(0), tzinfo=timezone.utc)
    return {"X-Deprecated": "true", "Sunset": format_datetime(day, usegmt=True), "Link": f'<{note}>; rel="deprecation"'}


def deprecated_field(since: str, note: str, **kw: Any):
    """A model field clients should stop sending: marked in the schema, announced in responses."""
    return Field(deprecated=note, json_schema_extra={"x-deprecated-since": since, "x-sunset": sunset(since).isoformat()},
                 **kw)


def field_deprecations(model) -> dict[str, str]:
    """{field name: since} of a model's deprecated fields."""
    return {name: (f.json_schema_extra or {}).get("x-deprecated-since", date.today().isoformat())
            for name, f in model.model_fields.items() if f.deprecated}
