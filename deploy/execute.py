"""Running a plan: waves in order, each wave's steps in a bounded pool, every call timed.

A step runs in its own scratch directory (policy files, the env file, a function's staged source);
its `then` steps follow it on the same worker. A failed step fails its wave: the steps already
started finish, and no later wave starts (a function is never deployed before the grant or the
secret it needs).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy import rules
from deploy.gcloud import Gcloud, GcloudError, parallel
from deploy.plan import Step, Wave


@dataclass
class Outcome:
    step: Step
    seconds: float
    error: str | None = None
    output: str = ""


@dataclass
class Runner:
    gcloud: Gcloud
    workers: int = 8
    out: object = sys.stdout
    started: float = field(default_factory=time.monotonic)
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.started:6.1f}s] {text}", file=self.out, flush=True)

    def _call(self, step: Step, scratch: Path) -> str:
        args = [a.replace("{dir}", str(scratch)) for a in step.args]
        if step.program == "gcloud":
            return self.gcloud.run(args)
        argv = [rules.firebase_binary(), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=rules.ROOT, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(self.gcloud.env or {})})
        if proc.returncode != 0:
            raise GcloudError(argv, proc.returncode, proc.stdout[-2000:] + proc.stderr)
        return proc.stdout

    def _one(self, step: Step) -> Outcome:
        begun = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="utalk-deploy-") as tmp:
                scratch = Path(tmp)
                for name, content in step.files.items():
                    (scratch / name).write_text(content)
                if step.stage:
                    step.stage(scratch)
                output = self._call(step, scratch)
                for follow in step.then:
                    self._call(follow, scratch)
        except (GcloudError, OSError) as exc:
            outcome = Outcome(step, time.monotonic() - begun, error=str(exc))
            self.say(f"FAILED {step.action} {step.resource}: {exc}")
        else:
            outcome = Outcome(step, time.monotonic() - begun, output=output)
            self.say(f"done   {step.action} {step.resource} ({outcome.seconds:.1f}s)")
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def run(self, wave: Wave, workers: int | None = None) -> bool:
        if not wave.steps:
            return True
        self.say(f"wave: {wave.title} ({len(wave.steps)} step(s))")
        results = parallel(self._one, wave.steps, workers or self.workers)
        return all(r.error is None for r in results)
