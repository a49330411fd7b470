"""Deprecation of routes and input fields: what their responses say, and when they go away.

A route is deprecated by its manifest row (`deprecated="YYYY-MM-DD"`, the day it was; its
`deprecation_note` names the migration note); an input field by `deprecated_field(since, note)`
in its model. Responses of a deprecated route, and of a request that used a deprecated field,
carry `X-Deprecated: true`, `Sunset` (the HTTP date six months after `since`, RFC 8594) and
`Link: <note>; rel="deprecation"`; the OpenAPI document marks both (contract/openapi.py).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

SUNSET_DAYS = 183   # six months
DEFAULT_NOTE = "/docs/api-contract.md#deprecations"


def sunset(since: str) -> date:
    return date.fromisoformat(since) + timedelta(days=SUNSET_DAYS)


def http_date(day: date) -> str:
    """RFC 9110's IMF-fixdate of a day's midnight UTC (email.utils would cost every function its import)."""
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[day.month - 1]
    return f"{weekday}, {day.day:02d} {month} {day.year} 00:00:00 GMT"


def headers(since: str, note: str = DEFAULT_NOTE) -> dict[str, str]:
    return {"X-Deprecated": "true", "Sunset": http_date(sunset(since)), "Link": f'<{note}>; rel="deprecation"'}


def deprecated_field(since: str, note: str, **kw: Any):
    """A model field clients should stop sending: marked in the schema, announced in responses."""
    from pydantic import Field  # models that use it load pydantic's fields anyway; http.py does not

    return Field(deprecated=note, json_schema_extra={"x-deprecated-since": since, "x-sunset": sunset(since).isoformat()},
                 **kw)


def field_deprecations(model) -> dict[str, str]:
    """{field name: since} of a model's deprecated fields."""
    return {name: (f.json_schema_extra or {}).get("x-deprecated-since", date.today().isoformat())
            for name, f in model.model_fields.items() if f.deprecated}
