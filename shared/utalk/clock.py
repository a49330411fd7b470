"""The services' "now": real UTC time, which a local or test stack may move forward or back.

Business hours, offer expiry, the scheduled sweeps and what the stack stores as "when" decide by
this clock. A test cannot sleep through a night or thirty days, and the demo history
(devstack/history.py) plays past days, so a local/test stack names a file (`UTALK_CLOCK_FILE`,
set by devstack/stack.py for every process of the stack) holding an offset in seconds that
`now()` adds; `set()` writes it, so the gateway's workers see the same time as the test. Outside
local/test the variable is unset or ignored: a deployed instance always runs on real time.

Cheap on the hot path (the inbound webhook stamps its message with `stamp()`): without the
variable it costs a global lookup; with it, a `stat()` of the file at most once a second per
process, re-read only when its mtime changed. So a moved clock reaches every process within a
second, and `set()` waits that second out before it returns.

`stamp()` is what to store as "now": Firestore's server timestamp on real time (as deployed),
the moved time while the clock is moved, so stored message, escalation and close times follow it.
Times stamped before a move stay where they were: moving the clock 31 days ahead makes a
conversation whose last message is from a moment ago look 31 days idle.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from google.cloud.firestore_v1 import SERVER_TIMESTAMP

ENV_VAR = "UTALK_CLOCK_FILE"
RECHECK_SECONDS = 1.0

_path: str | None = os.environ.get(ENV_VAR) or None
_state = {"checked": -RECHECK_SECONDS, "mtime": None, "offset": 0.0, "local": None}


def now() -> datetime:
    real = datetime.now(timezone.utc)
    offset = _offset()
    return real + timedelta(seconds=offset) if offset else real


def stamp():
    """The "now" to store: SERVER_TIMESTAMP on real time, the moved moment while moved."""
    if _path is None:
        return SERVER_TIMESTAMP
    offset = _offset()
    return datetime.now(timezone.utc) + timedelta(seconds=offset) if offset else SERVER_TIMESTAMP


def _offset() -> float:
    if _path is None:
        return 0.0
    state = _state
    tick = time.monotonic()
    if tick - state["checked"] < RECHECK_SECONDS:
        return state["offset"]
    state["checked"] = tick
    if state["local"] is None:
        from utalk.config import settings
        state["local"] = settings().is_local
    if not state["local"]:
        return 0.0
    try:
        mtime = os.stat(_path).st_mtime_ns
    except OSError:
        state["mtime"], state["offset"] = None, 0.0
        return 0.0
    if mtime != state["mtime"]:
        try:
            state["offset"] = float(Path(_path).read_text() or 0)
        except (OSError, ValueError):
            state["offset"] = 0.0
        state["mtime"] = mtime
    return state["offset"]


def set(moment: datetime | None) -> None:  # noqa: A001 - clock.set(...) reads well at call sites
    """Make `now()` return `moment` (then run on from there) in every process of this stack;
    None goes back to real time. Local/test only. Returns once every process sees it."""
    from utalk.config import settings

    global _path
    _path = os.environ.get(ENV_VAR) or None
    if not _path or not settings().is_local:
        raise RuntimeError(f"the clock can only be moved in a local/test stack with {ENV_VAR} set")
    file = Path(_path)
    if moment is None:
        if not file.exists():
            return                # already real time: nothing for the processes to notice
        file.unlink(missing_ok=True)
    else:
        offset = (moment - datetime.now(timezone.utc)).total_seconds()
        tmp = file.with_suffix(".tmp")
        tmp.write_text(repr(offset))
        tmp.replace(file)   # readers never see a half-written number
    _state["checked"] = -RECHECK_SECONDS     # this process at once; the others within a second
    time.sleep(RECHECK_SECONDS + 0.05)
