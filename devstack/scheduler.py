"""The local stand-in for Google's control plane: a Cloud Scheduler driver and the OIDC certs URL.

    python -m devstack.scheduler PORT        (started by devstack/stack.py)

There is no Cloud Scheduler emulator. This process holds one job per manifest row with
`schedule=` (as deploy creates them: HTTP POST to the function's own URL, an OIDC token of the
invoker service account with that URL as audience) and calls each at its cron times in its time
zone (croniter), as Cloud Scheduler does: headers X-CloudScheduler, X-CloudScheduler-JobName and
X-CloudScheduler-ScheduleTime, a token minted with the stack's key (devstack/oidc.py), no retry
(Cloud Scheduler's default retry count is 0), a missed slot is not replayed.

Its REST surface is a small subset of Cloud Scheduler's v1 API, for tests and curious developers:
`GET /v1/projects/P/locations/L/jobs[/ID]`, `POST .../jobs/ID:run` (now, asynchronously, like
RunJob), `:pause`, `:resume`. The test stack starts its jobs paused (UTALK_SCHEDULER_PAUSED=1) so
no run lands in the middle of a test; tests run them on demand.

`GET /oauth2/v1/certs` serves the stack's signing certificate the way Google's endpoint does.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from croniter import croniter

from devstack import oidc

CERTS_PATH = "/oauth2/v1/certs"
CERTS_MAX_AGE = 3600
_JOB_PATH = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/jobs(?:/([^/:]+))?(?::(run|pause|resume))?$")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Job:
    name: str
    schedule: str
    time_zone: str
    uri: str
    service_account: str
    deadline_seconds: float
    paused: bool = False
    next_time: datetime | None = None
    last_attempt: datetime | None = None
    last_status: int | None = None

    def next_after(self, moment: datetime) -> datetime:
        return croniter(self.schedule, moment.astimezone(ZoneInfo(self.time_zone))).get_next(datetime)

    def describe(self, parent: str) -> dict:
        return {"name": f"{parent}/jobs/{self.name}", "schedule": self.schedule, "timeZone": self.time_zone,
                "state": "PAUSED" if self.paused else "ENABLED",
                "scheduleTime": rfc3339(self.next_time) if self.next_time and not self.paused else None,
                "lastAttemptTime": rfc3339(self.last_attempt) if self.last_attempt else None,
                "status": None if self.last_status is None else {
                    "code": 0 if 200 <= self.last_status < 300 else 13, "message": f"HTTP {self.last_status}"},
                "httpTarget": {"uri": self.uri, "httpMethod": "POST",
                               "oidcToken": {"serviceAccountEmail": self.service_account, "audience": self.uri}},
                "retryConfig": {"retryCount": 0}}


def jobs_from_manifest(paused: bool = False) -> list[Job]:
    from utalk import manifest
    from utalk.config import settings

    cfg = settings()
    return [Job(fn.name, fn.schedule, fn.time_zone, f"{cfg.functions_base_url}/{fn.name}",
                cfg.invoker_service_account, min(1800.0, fn.timeout_seconds + 30.0), paused)
            for fn in manifest.FUNCTIONS if fn.schedule]


class Driver:
    """Calls each job at its cron times; `clock` (epoch seconds) is injectable for tests."""

    def __init__(self, jobs: list[Job], clock=time.time):
        self.jobs = {job.name: job for job in jobs}
        self.clock = clock
        self.lock = threading.Lock()
        now = self._now()
        for job in jobs:
            job.next_time = job.next_after(now)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def tick(self) -> list[threading.Thread]:
        """Start every job whose time has come (each in its own thread); returns the threads."""
        now, started = self._now(), []
        with self.lock:
            for job in self.jobs.values():
                if job.paused or job.next_time is None or job.next_time > now:
                    continue
                slot, job.next_time = job.next_time, job.next_after(now)   # missed slots are not replayed
                started.append(self._start(job, slot))
        return started

    def run_now(self, name: str) -> Job:
        job = self.jobs[name]
        self._start(job, self._now())
        return job

    def set_paused(self, name: str, paused: bool) -> Job:
        with self.lock:
            job = self.jobs[name]
            job.paused = paused
            job.next_time = job.next_after(self._now())
            return job

    def _start(self, job: Job, slot: datetime) -> threading.Thread:
        thread = threading.Thread(target=self.fire, args=(job, slot), daemon=True)
        thread.start()
        return thread

    def fire(self, job: Job, slot: datetime) -> int | None:
        """One call of `job` for time `slot`, as Cloud Scheduler makes it; the HTTP status (None: no answer)."""
        req = urllib.request.Request(job.uri, data=b"", method="POST", headers={
            "User-Agent": "Google-Cloud-Scheduler", "X-CloudScheduler": "true",
            "X-CloudScheduler-JobName": job.name, "X-CloudScheduler-ScheduleTime": rfc3339(slot),
            "Authorization": f"Bearer {oidc.mint(job.uri, job.service_account)}"})
        job.last_attempt = self._now()
        try:
            with urllib.request.urlopen(req, timeout=job.deadline_seconds) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except Exception as exc:   # the gateway is not up yet, or the call timed out
            print(f"scheduler: {job.name} at {rfc3339(slot)} got no answer: {exc}", file=sys.stderr, flush=True)
            status = None
        job.last_status = status
        return status

    def run_forever(self) -> None:
        while True:
            self.tick()
            time.sleep(0.5)


class Handler(BaseHTTPRequestHandler):
    key: dict = {}
    driver: Driver

    def do_GET(self):
        if self.path == CERTS_PATH:
            return self._json(200, oidc.certs(self.key), {"Cache-Control": f"public, max-age={CERTS_MAX_AGE}"})
        self._jobs("GET")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._jobs("POST")

    def _jobs(self, method: str):
        match = _JOB_PATH.match(self.path)
        if not match:
            return self._json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        project, location, name, verb = match.groups()
        parent = f"projects/{project}/locations/{location}"
        if name is None:
            return self._json(200, {"jobs": [j.describe(parent) for j in self.driver.jobs.values()]})
        if name not in self.driver.jobs:
            return self._json(404, {"error": {"code": 404, "message": f"job {name} not found", "status": "NOT_FOUND"}})
        if method == "GET" and not verb:
            return self._json(200, self.driver.jobs[name].describe(parent))
        if method == "POST" and verb == "run":
            return self._json(200, self.driver.run_now(name).describe(parent))
        if method == "POST" and verb in ("pause", "resume"):
            return self._json(200, self.driver.set_paused(name, verb == "pause").describe(parent))
        self._json(405, {"error": {"code": 405, "message": "method not allowed"}})

    def _json(self, status: int, body, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # quiet: the functions log what matters
        pass


def main(port: int) -> None:
    Handler.key = oidc.load()
    Handler.driver = Driver(jobs_from_manifest(paused=os.environ.get("UTALK_SCHEDULER_PAUSED") == "1"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Handler.driver.run_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
