"""A workspace's business hours: whether it is open at a moment, and when it opens next.

Settings (`workspaces/{ws}.settings`): `businessHours` {`enabled` (false), `weekly` {"mon":
[{"open": "09:00", "close": "18:00"}], ..., "sun": []}, `holidays` ["YYYY-MM-DD"],
`outOfHoursMessage`} read in the workspace's `timeZone` (IANA, default UTC). Disabled (the
default) means always open. A `close` of "24:00" runs to midnight; an interval that does not
open before it closes, or a time that does not parse, is ignored (a day without hours is closed).
Pure functions of the settings and a moment (utalk.clock.now() in the callers).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MESSAGE = ("Gracias por escribirnos. En este momento estamos fuera de nuestro horario de atención; "
                   "un agente te responderá en cuanto abramos.")
_HORIZON_DAYS = 400      # a schedule with no opening within this is never open
_END_OF_DAY = time.max


def _hours(cfg: dict) -> dict | None:
    hours = cfg.get("businessHours")
    return hours if isinstance(hours, dict) and hours.get("enabled") else None


def zone(cfg: dict) -> ZoneInfo:
    try:
        return ZoneInfo(str(cfg.get("timeZone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _clock(value) -> time | None:
    if value == "24:00":
        return _END_OF_DAY
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None


def _intervals(hours: dict, day: date) -> list[tuple[time, time]]:
    if day.isoformat() in (hours.get("holidays") or []):
        return []
    found = []
    for item in (hours.get("weekly") or {}).get(DAYS[day.weekday()]) or []:
        if isinstance(item, dict):
            start, end = _clock(item.get("open")), _clock(item.get("close"))
            if start is not None and end is not None and start < end:
                found.append((start, end))
    return sorted(found)


def is_open(cfg: dict, at: datetime) -> bool:
    hours = _hours(cfg)
    if hours is None:
        return True
    local = at.astimezone(zone(cfg))
    return any(start <= local.time() < end for start, end in _intervals(hours, local.date()))


def next_opening(cfg: dict, at: datetime) -> datetime | None:
    """`at` itself when open, else the next moment the workspace opens (UTC); None if it never does."""
    hours = _hours(cfg)
    if hours is None:
        return at
    tz = zone(cfg)
    local = at.astimezone(tz)
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        for start, end in _intervals(hours, day):
            if offset == 0 and local.time() >= end:
                continue
            if offset == 0 and local.time() >= start:
                return at
            return datetime.combine(day, start, tzinfo=tz).astimezone(timezone.utc)
    return None


def closed_message(cfg: dict, at: datetime) -> str | None:
    """The out-of-hours message when the workspace is closed at `at`, else None."""
    if is_open(cfg, at):
        return None
    return (cfg.get("businessHours") or {}).get("outOfHoursMessage") or DEFAULT_MESSAGE
