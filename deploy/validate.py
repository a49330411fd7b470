"""What Google would refuse (or silently mangle), checked before any call; each error names its row.

gcloud checks none of this on the client: `--memory=512Mi --concurrency=8` goes out as is and the
server answers "Total cpu < 1 is not supported with concurrency > 1" halfway through a deploy.
Limits, with their sources (read 2026-01):
- memory tiers and the vCPU each gets by default (Cloud Run functions "Configure memory"):
  cloud.google.com/functions/docs/configuring/memory
- vCPU values and memory per vCPU, and what < 1 vCPU forbids (Cloud Run "Configure CPU limits"):
  docs.cloud.google.com/run/docs/configuring/jobs/cpu
- timeouts: 3600 s for HTTP functions (cloud.google.com/functions/docs/configuring/timeout); a push
  subscription's ack deadline is at most 600 s, a task's dispatch deadline 15 s-30 min, a scheduled
  job's attempt deadline 15 s-30 min (gcloud help for each command)
- Cloud Tasks queues: at most 500 dispatches per second (RateLimits reference), 5000 concurrent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deploy import target
from deploy.spec import Spec
from utalk import manifest

# Memory tier -> the vCPU Google gives it when --cpu is not set.
DEFAULT_CPU = {128: 0.083, 256: 0.167, 512: 0.333, 1024: 0.583, 2048: 1, 4096: 2, 8192: 2, 16384: 4, 32768: 8}
# Whole vCPUs -> (min, max) memory in MiB.
MEMORY_PER_CPU = {1: (128, 4096), 2: (128, 8192), 4: (2048, 16384), 6: (4096, 24576), 8: (4096, 32768)}
MAX_TIMEOUT = {"http": 3600, "pubsub": 600, "task": 1800, "schedule": 1800}
MIN_TIMEOUT = {"http": 1, "pubsub": 10, "task": 15, "schedule": 15}
MAX_DISPATCHES_PER_SECOND = 500
MAX_CONCURRENT_DISPATCHES = 5000
# Function ids keep underscores (their URL is UTALK_FUNCTIONS_BASE_URL/<name>); Cloud Run's service
# is the name with "-" for "_". Lowercase, digits and "_" only, so that mapping is one-to-one.
NAME = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")
MAX_SERVICE_NAME = 49          # Cloud Run service names are shorter than 50 characters


class ManifestError(ValueError):
    """The manifest asks for something Google refuses; `errors` lists every problem, row first."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Resources:
    memory_mib: int
    cpu: float

    @property
    def cpu_flag(self) -> str:
        """The --cpu value, always sent: an update that omits it keeps the old CPU (seen with gcloud 528)."""
        return str(int(self.cpu)) if self.cpu >= 1 else f"{self.cpu:g}"


def memory_mib(value: str) -> int:
    m = re.fullmatch(r"(\d+)(Mi|Gi)", value)
    if not m:
        raise ValueError(f"memory {value!r} is not like 256Mi or 1Gi")
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def resources(fn: manifest.Function) -> Resources:
    """Memory and the effective vCPU (explicit, or Google's default for the memory tier)."""
    mib = memory_mib(fn.memory)
    return Resources(mib, float(fn.cpu) if fn.cpu is not None else DEFAULT_CPU[mib])


def _function_errors(fn: manifest.Function, secrets: tuple[str, ...]) -> list[str]:
    errors: list[str] = []
    row = f"function {fn.name}"
    if not NAME.match(fn.name):
        errors.append(f"{row}: name must be lowercase letters, digits and underscores, starting with a letter")
    if len(target.service_name(fn.name)) > MAX_SERVICE_NAME:
        errors.append(f"{row}: name longer than {MAX_SERVICE_NAME} characters (Cloud Run service names)")
    try:
        mib = memory_mib(fn.memory)
    except ValueError as exc:
        return errors + [f"{row}: {exc}"]
    if mib not in DEFAULT_CPU:
        errors.append(f"{row}: memory {fn.memory} is not a Cloud Run functions tier "
                      f"({', '.join(f'{m}Mi' for m in DEFAULT_CPU)})")
        return errors
    try:
        cpu = float(fn.cpu) if fn.cpu is not None else DEFAULT_CPU[mib]
    except ValueError:
        return errors + [f"{row}: cpu {fn.cpu!r} is not a number"]
    if cpu < 0.08 or cpu > 8 or (cpu > 1 and cpu not in MEMORY_PER_CPU):
        errors.append(f"{row}: cpu {fn.cpu} must be 0.08-1 or one of 1, 2, 4, 6, 8")
    elif cpu >= 1:
        low, high = MEMORY_PER_CPU[int(cpu)]
        if not low <= mib <= high:
            errors.append(f"{row}: {int(cpu)} vCPU needs {low}-{high} MiB of memory, not {fn.memory}")
    else:
        if mib > 1024:
            errors.append(f"{row}: memory {fn.memory} needs at least 1 vCPU (cpu is {cpu:g})")
        elif mib > 512 and cpu < 0.5:
            errors.append(f"{row}: memory {fn.memory} needs at least 0.5 vCPU (cpu is {cpu:g})")
    if not 1 <= fn.concurrency <= 1000:
        errors.append(f"{row}: concurrency {fn.concurrency} must be 1-1000")
    elif fn.concurrency > 1 and cpu < 1:
        errors.append(f"{row}: concurrency {fn.concurrency} needs at least 1 vCPU; set cpu=\"1\" "
                      f"({fn.memory} gets {cpu:g} vCPU by default)")
    if fn.min_instances < 0 or fn.max_instances < 1 or fn.min_instances > fn.max_instances:
        errors.append(f"{row}: instances must satisfy 0 <= min ({fn.min_instances}) <= max ({fn.max_instances}), max >= 1")
    if not MIN_TIMEOUT[fn.kind] <= fn.timeout_seconds <= MAX_TIMEOUT[fn.kind]:
        errors.append(f"{row}: timeout {fn.timeout_seconds}s is outside {MIN_TIMEOUT[fn.kind]}-"
                      f"{MAX_TIMEOUT[fn.kind]}s, the range a {fn.kind} trigger allows")
    for secret in fn.secrets:
        if secret not in secrets:
            errors.append(f"{row}: secret {secret} is not one the deploy creates (manifest.SECRETS)")
    if fn.public and fn.kind != "http":
        errors.append(f"{row}: public but triggered by {fn.kind}; internal triggers call only internal "
                      f"functions (public=False)")
    if not fn.public and fn.kind == "http":
        errors.append(f"{row}: an HTTP route must be public (the front door cannot reach an internal function)")
    if fn.role not in manifest.ROLES:
        errors.append(f"{row}: identity {fn.role!r} is not one of {', '.join(manifest.ROLES)}")
    if fn.kind == "schedule":
        errors.extend(_schedule_errors(fn, row))
    return errors


def _schedule_errors(fn: manifest.Function, row: str) -> list[str]:
    errors = []
    if len(fn.schedule.split()) != 5:
        errors.append(f"{row}: schedule {fn.schedule!r} is not a five-field cron expression")
    zone = time_zone(fn)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"{row}: time zone {zone!r} is not an IANA time zone")
    return errors


def time_zone(fn: manifest.Function) -> str:
    """A scheduled row's time zone (the manifest's trigger field), UTC when it names none."""
    return getattr(fn, "time_zone", None) or "Etc/UTC"


def _queue_errors(q: manifest.Queue) -> list[str]:
    row = f"queue {q.name}"
    errors = []
    if not 0 < q.max_dispatches_per_second <= MAX_DISPATCHES_PER_SECOND:
        errors.append(f"{row}: max_dispatches_per_second {q.max_dispatches_per_second} must be >0 and "
                      f"<= {MAX_DISPATCHES_PER_SECOND}")
    if not 1 <= q.max_concurrent_dispatches <= MAX_CONCURRENT_DISPATCHES:
        errors.append(f"{row}: max_concurrent_dispatches {q.max_concurrent_dispatches} must be 1-"
                      f"{MAX_CONCURRENT_DISPATCHES}")
    if q.max_attempts != -1 and q.max_attempts < 1:
        errors.append(f"{row}: max_attempts {q.max_attempts} must be -1 (unlimited) or at least 1")
    if not 0 <= q.min_backoff_seconds <= q.max_backoff_seconds:
        errors.append(f"{row}: backoff must satisfy 0 <= min ({q.min_backoff_seconds}) <= max "
                      f"({q.max_backoff_seconds})")
    if q.max_doublings < 0 or q.max_retry_seconds < 0:
        errors.append(f"{row}: max_doublings and max_retry_seconds cannot be negative")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", q.name):
        errors.append(f"{row}: queue names are letters, digits and hyphens")
    return errors


def check(spec: Spec) -> None:
    """Raise ManifestError listing every problem in the rows."""
    errors: list[str] = []
    names = [f.name for f in spec.functions]
    errors.extend(f"function {n}: the name appears twice" for n in sorted({n for n in names if names.count(n) > 1}))
    errors.extend(f"PLATFORM_SECRETS: {s} is not one the deploy creates (SECRETS)"
                  for s in spec.platform_secrets if s not in spec.secrets)
    for fn in spec.functions:
        errors.extend(_function_errors(fn, spec.secrets))
        if fn.queue and fn.queue not in {q.name for q in spec.queues}:
            errors.append(f"function {fn.name}: queue {fn.queue} is not declared in QUEUES")
        if fn.topic and fn.topic not in spec.topics:
            errors.append(f"function {fn.name}: topic {fn.topic} is not declared in TOPICS")
    for q in spec.queues:
        errors.extend(_queue_errors(q))
    if errors:
        raise ManifestError(errors)
