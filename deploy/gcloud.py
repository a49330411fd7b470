"""Running gcloud: argv lists (never a shell string), JSON output, and a bounded pool of calls.

Every call gets `--project` and `--quiet`; the caller's environment decides credentials and
endpoints (tests point `CLOUDSDK_API_ENDPOINT_OVERRIDES_*` at a local fake). `calls` keeps the
argv and duration of each call, for the timings the deploy prints.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")
RAISE = object()


class GcloudError(RuntimeError):
    def __init__(self, argv: list[str], returncode: int, stderr: str):
        super().__init__(f"gcloud {' '.join(argv[1:4])}... failed ({returncode}): {stderr.strip()[-800:]}")
        self.argv, self.returncode, self.stderr = argv, returncode, stderr

    @property
    def not_found(self) -> bool:
        text = self.stderr.lower()
        return "not_found" in text or "not found" in text or "404" in text


@dataclass
class Gcloud:
    project: str
    binary: str = os.environ.get("UTALK_GCLOUD", "gcloud")
    env: dict[str, str] | None = None
    calls: list[tuple[list[str], float]] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()

    def argv(self, args: list[str]) -> list[str]:
        return [self.binary, *args, f"--project={self.project}", "--quiet"]

    def run(self, args: list[str], cwd: str | None = None) -> str:
        argv = self.argv(args)
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd,
                              env={**os.environ, **(self.env or {})}, stdin=subprocess.DEVNULL)
        with self._lock:
            self.calls.append((argv, time.monotonic() - started))
        if proc.returncode != 0:
            raise GcloudError(argv, proc.returncode, proc.stderr)
        return proc.stdout

    def json(self, args: list[str], *, missing=RAISE):
        """Parsed `--format=json` output; `missing` (if given) when the resource does not exist."""
        try:
            out = self.run([*args, "--format=json"])
        except GcloudError as err:
            if missing is not RAISE and err.not_found:
                return missing
            raise
        return json.loads(out or "null")


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """fn over items with at most `workers` at once, results in order; the first error is raised."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(fn, items))
