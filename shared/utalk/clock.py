"""The services' "now": real UTC time, which a local or test stack may move forward or back.

Business hours, offer expiry and the scheduled sweeps decide by `now()`. A test cannot sleep
through a night or thirty days, so a local/test stack names a file (`UTALK_CLOCK_FILE`, set by
devstack/stack.py for every process of the stack) holding an offset in seconds that `now()` adds;
`set()` writes it, so the gateway's workers see the same time as the test. Outside local/test the
variable is ignored: a deployed instance always runs on real time.

What Firestore stamps (server timestamps: message times, `closedAt`) stays real, so moving the
clock 31 days ahead makes a conversation whose last message is from a moment ago look 31 days idle.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

ENV_VAR = "UTALK_CLOCK_FILE"


def now() -> datetime:
    real = datetime.now(timezone.utc)
    offset = _offset()
    return real + timedelta(seconds=offset) if offset else real


def _offset() -> float:
    path = os.environ.get(ENV_VAR)
    if not path:
        return 0.0
    from utalk.config import settings

    if not settings().is_local:
        return 0.0
    try:
        return float(Path(path).read_text() or 0)
    except (OSError, ValueError):
        return 0.0


def set(moment: datetime | None) -> None:  # noqa: A001 - clock.set(...) reads well at call sites
    """Make `now()` return `moment` (then run on from there) in every process of this stack;
    None goes back to real time. Local/test only."""
    from utalk.config import settings

    path = os.environ.get(ENV_VAR)
    if not path or not settings().is_local:
        raise RuntimeError(f"the clock can only be moved in a local/test stack with {ENV_VAR} set")
    file = Path(path)
    if moment is None:
        file.unlink(missing_ok=True)
        return
    offset = (moment - datetime.now(timezone.utc)).total_seconds()
    tmp = file.with_suffix(".tmp")
    tmp.write_text(repr(offset))
    tmp.replace(file)   # readers never see a half-written number
