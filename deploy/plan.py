"""Desired state from the rows, compared with what the project has: the steps, in waves.

A wave's steps run in parallel; a wave starts when the one before it succeeded (identities before
the grants naming them, secrets before the functions mounting them, the gateway before the
functions whose UTALK_PUBLIC_BASE_URL is its host). Resources already as desired make no step.
Nothing is deleted: rows removed from the manifest are listed as unmanaged for a person to remove.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from deploy import frontdoor, hashing, iam, target, validate
from deploy.spec import Spec
from deploy.state import State
from deploy.target import Target
from utalk import manifest

APIS = ("cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com", "pubsub.googleapis.com", "cloudtasks.googleapis.com",
        "cloudscheduler.googleapis.com", "secretmanager.googleapis.com", "iam.googleapis.com",
        "firestore.googleapis.com", "storage.googleapis.com", "firebaserules.googleapis.com",
        "apigateway.googleapis.com", "servicemanagement.googleapis.com", "servicecontrol.googleapis.com",
        "iamcredentials.googleapis.com")
SCHEDULER_RETRIES = 3


@dataclass
class Step:
    resource: str                      # "function auth_login"
    action: str                        # create | update | deploy | grant | enable
    reason: str
    args: list[str]                    # gcloud arguments; "{dir}" is the step's scratch directory
    program: str = "gcloud"            # or "firebase" (rules and indexes)
    files: dict[str, str] = field(default_factory=dict)           # written into {dir} first
    stage: Callable | None = None      # fills {dir} further (a function's source)
    then: list["Step"] = field(default_factory=list)               # after this one, same worker

    def describe(self) -> str:
        return f"{self.action:7} {self.resource:45} {self.reason}"


@dataclass
class Wave:
    title: str
    steps: list[Step]


@dataclass
class Plan:
    waves: list[Wave]
    unchanged: dict[str, int]
    blocked: list[str]                 # functions not deployable yet, with why
    unmanaged: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [s for w in self.waves for s in w.steps]

    def render(self, tgt: Target) -> str:
        lines = [f"deploy plan for project {tgt.project} in {tgt.region}: {len(self.steps)} change(s)"]
        for number, wave in enumerate(self.waves, 1):
            if wave.steps:
                lines.append(f"  wave {number} - {wave.title}")
                for step in wave.steps:
                    lines.append("    " + step.describe())
                    lines.extend("      then " + t.describe() for t in step.then)
        if any(self.unchanged.values()):
            lines.append("  unchanged: " + ", ".join(f"{n} {kind}" for kind, n in self.unchanged.items() if n))
        lines.extend(f"  BLOCKED {b}" for b in self.blocked)
        lines.extend(f"  unmanaged (not in the manifest; not deleted): {u}" for u in self.unmanaged)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _policy_file(policy: dict) -> dict[str, str]:
    return {"policy.json": json.dumps(policy, indent=1, sort_keys=True)}


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def _get(obj: dict, dotted: str):
    for key in dotted.split("."):
        obj = obj.get(key, {}) if isinstance(obj, dict) else {}
    return obj if obj != {} else None


def _differences(current: dict, wanted: dict[str, object]) -> list[str]:
    out = []
    for path, value in wanted.items():
        have = _get(current, path)
        same = (float(have) == float(value)) if isinstance(value, float) and have is not None else have == value
        if not same and not (value == "0s" and have is None):
            out.append(f"{path} {have} -> {value}")
    return out


# -- infrastructure ------------------------------------------------------------------------------
def _apis(state: State) -> list[Step]:
    missing = [a for a in APIS if a not in state.enabled]
    return [Step("services", "enable", ", ".join(missing), ["services", "enable", *missing])] if missing else []


def _identities(tgt: Target, state: State) -> list[Step]:
    return [Step(f"service account utalk-{i}", "create", "missing",
                 ["iam", "service-accounts", "create", f"utalk-{i}", "--display-name", f"UTalk {i}"])
            for i in target.IDENTITIES if tgt.account(i) not in state.accounts]


def _secrets(spec: Spec, state: State) -> list[Step]:
    return [Step(f"secret {s}", "create", "missing (created empty: add its value yourself)",
                 ["secrets", "create", s, "--replication-policy", "automatic", "--labels", "managed-by=utalk"])
            for s in spec.secrets if s not in state.secrets]


def _topics(spec: Spec, state: State) -> list[Step]:
    return [Step(f"topic {t}", "create", "missing", ["pubsub", "topics", "create", t])
            for t in (*spec.topics, manifest.DEAD_LETTER_TOPIC) if t not in state.topics]


DEAD_LETTER_HOLD = f"{manifest.DEAD_LETTER_TOPIC}--hold"


def _dead_letter_hold(state: State) -> list[Step]:
    """Pub/Sub keeps a topic's messages only for its subscriptions: one pull subscription holds the
    dead letters a week for a person (or a replay) to read."""
    if DEAD_LETTER_HOLD in state.subscriptions:
        return []
    return [Step(f"subscription {DEAD_LETTER_HOLD}", "create", "missing",
                 ["pubsub", "subscriptions", "create", DEAD_LETTER_HOLD, "--topic", manifest.DEAD_LETTER_TOPIC,
                  "--message-retention-duration", "7d", "--expiration-period", "never"])]


def _bucket(tgt: Target, state: State) -> list[Step]:
    if state.bucket:
        return []
    return [Step(f"bucket {tgt.bucket}", "create", "missing",
                 ["storage", "buckets", "create", f"gs://{tgt.bucket}", "--location", tgt.region,
                  "--uniform-bucket-level-access"])]


def _grants(spec: Spec, tgt: Target, state: State) -> list[Step]:
    steps = []
    gaps = iam.missing(state.project_policy, iam.project_bindings(tgt))
    if gaps:
        steps.append(Step(f"project {tgt.project} IAM", "grant", _gap_text(gaps),
                          ["projects", "set-iam-policy", tgt.project, "{dir}/policy.json"],
                          files=_policy_file(iam.merged(state.project_policy, gaps))))
    for identity, wanted in iam.account_bindings(tgt).items():
        policy = state.account_policies.get(identity, {})
        gaps = iam.missing(policy, wanted)
        if gaps:
            steps.append(Step(f"service account utalk-{identity} IAM", "grant", _gap_text(gaps),
                              ["iam", "service-accounts", "set-iam-policy", tgt.account(identity),
                               "{dir}/policy.json"], files=_policy_file(iam.merged(policy, gaps))))
    bucket_users = {iam.BUCKET_ROLE: {tgt.member(i) for i in iam.BUCKET_USERS}}
    gaps = iam.missing(state.bucket_policy, bucket_users)
    if gaps:
        steps.append(Step(f"bucket {tgt.bucket} IAM", "grant", _gap_text(gaps),
                          ["storage", "buckets", "set-iam-policy", f"gs://{tgt.bucket}", "{dir}/policy.json"],
                          files=_policy_file(iam.merged(state.bucket_policy, gaps))))
    for secret in spec.secrets:
        readers = {tgt.member(f.role) for f in spec.functions if secret in spec.secrets_of(f)}
        digest = iam.readers_label(readers)
        if state.secrets.get(secret, {}).get("labels", {}).get("utalk-readers") != digest:
            step = Step(f"secret {secret} IAM", "grant",
                        "readers " + (", ".join(sorted(r.split(":")[1].split("@")[0] for r in readers)) or "none"),
                        ["secrets", "set-iam-policy", secret, "{dir}/policy.json"],
                        files=_policy_file(iam.only_readers(readers)))
            step.then.append(Step(f"secret {secret} label", "update", f"utalk-readers={digest}",
                                  ["secrets", "update", secret, f"--update-labels=utalk-readers={digest}"]))
            steps.append(step)
    return steps


def _gap_text(gaps: dict[str, set[str]]) -> str:
    return "; ".join(f"{role.removeprefix('roles/')} to {', '.join(sorted(m.split(':', 1)[1].split('@')[0] for m in ms))}"
                     for role, ms in sorted(gaps.items()))


def _queues(spec: Spec, tgt: Target, state: State) -> tuple[list[Step], int]:
    steps, same = [], 0
    for q in spec.queues:
        wanted = {"rateLimits.maxDispatchesPerSecond": float(q.max_dispatches_per_second),
                  "rateLimits.maxConcurrentDispatches": q.max_concurrent_dispatches,
                  "retryConfig.maxAttempts": q.max_attempts,
                  "retryConfig.minBackoff": _duration(q.min_backoff_seconds),
                  "retryConfig.maxBackoff": _duration(q.max_backoff_seconds),
                  "retryConfig.maxDoublings": q.max_doublings,
                  "retryConfig.maxRetryDuration": _duration(q.max_retry_seconds)}
        flags = ["--location", tgt.region,
                 "--max-dispatches-per-second", f"{q.max_dispatches_per_second:g}",
                 "--max-concurrent-dispatches", str(q.max_concurrent_dispatches),
                 "--max-attempts", str(q.max_attempts),
                 "--min-backoff", wanted["retryConfig.minBackoff"], "--max-backoff", wanted["retryConfig.maxBackoff"],
                 "--max-doublings", str(q.max_doublings), "--max-retry-duration", wanted["retryConfig.maxRetryDuration"]]
        current = state.queues.get(q.name)
        if current is None:
            steps.append(Step(f"queue {q.name}", "create", "missing", ["tasks", "queues", "create", q.name, *flags]))
        elif diffs := _differences(current, wanted):
            steps.append(Step(f"queue {q.name}", "update", "; ".join(diffs),
                              ["tasks", "queues", "update", q.name, *flags]))
        else:
            same += 1
    return steps, same


# -- functions ------------------------------------------------------------------------------------
def secret_version(state: State, secret: str, back: int = 0) -> int | None:
    """The secret's newest enabled version (`back`=1: the one before it), None if there is none."""
    versions = state.secrets.get(secret, {}).get("versions", [])
    return versions[back] if len(versions) > back else None


def secret_mounts(secrets: tuple[str, ...], state: State) -> list[str]:
    """`--set-secrets` entries: each secret at its newest enabled version, plus the one before it
    as <NAME>_PREVIOUS for the secrets rotated without a gap (manifest.ROTATED_WITH_PREVIOUS)."""
    mounts = [f"{s}={s}:{secret_version(state, s)}" for s in secrets]
    previous = {s: secret_version(state, s, 1) for s in secrets if s in manifest.ROTATED_WITH_PREVIOUS}
    return mounts + [f"{s}_PREVIOUS={s}:{v}" for s, v in previous.items() if v is not None]


def function_settings(fn: manifest.Function, spec: Spec, tgt: Target, state: State) -> list[str]:
    """The gcloud flags for the function's settings: what the hash covers, besides the files."""
    res = validate.resources(fn)
    flags = ["--gen2", "--region", tgt.region, "--runtime", target.RUNTIME, "--entry-point", fn.name,
             "--trigger-http", "--memory", fn.memory, "--cpu", res.cpu_flag,
             "--concurrency", str(fn.concurrency), "--timeout", f"{fn.timeout_seconds}s",
             "--min-instances", str(fn.min_instances), "--max-instances", str(fn.max_instances),
             "--service-account", tgt.account(fn.role),
             "--ingress-settings", "all" if fn.public else "internal-only",
             "--allow-unauthenticated" if fn.public else "--no-allow-unauthenticated"]
    secrets = spec.secrets_of(fn)
    if secrets:
        flags += ["--set-secrets", ",".join(secret_mounts(secrets, state))]
    else:
        flags += ["--clear-secrets"]
    return flags


def _env_yaml(env: dict[str, str]) -> str:
    return "".join(f"{k}: {json.dumps(v)}\n" for k, v in sorted(env.items()))


def function_step(fn: manifest.Function, spec: Spec, tgt: Target, state: State,
                  deploy_id: str) -> tuple[Step | None, str]:
    """The deploy step if the function differs from what runs (None if not), and its hash."""
    settings = function_settings(fn, spec, tgt, state)
    env = tgt.env(fn)
    digest = hashing.source_hash(fn, settings + [_env_yaml(env)])
    current = state.functions.get(fn.name)
    if current is None:
        reason = "new"
    elif current.get("state") != "ACTIVE":
        reason = f"state {current.get('state')}"
    elif current.get("labels", {}).get("utalk-hash") != digest:
        reason = f"hash {current.get('labels', {}).get('utalk-hash')} -> {digest}"
    else:
        return None, digest
    args = ["functions", "deploy", fn.name, "--source", "{dir}/src", *settings, "--env-vars-file", "{dir}/env.yaml",
            "--update-labels", f"utalk-hash={digest},utalk-role={fn.role},utalk-deploy={deploy_id}"]
    step = Step(f"function {fn.name}", "deploy", reason, args, files={"env.yaml": _env_yaml(env)},
                stage=lambda d, fn=fn: hashing.stage(fn, d / "src"))
    if not fn.public:
        step.then.append(Step(f"function {fn.name} IAM", "grant", "run.invoker to utalk-invoker",
                              ["functions", "add-invoker-policy-binding", fn.name, "--region", tgt.region,
                               "--member", tgt.member("invoker")]))
    return step, digest


def waiting(spec: Spec, state: State, only: set[str]) -> dict[str, list[str]]:
    """Secret -> the functions that cannot be deployed until it has a value (a version)."""
    out: dict[str, list[str]] = {}
    for fn in spec.only(only):
        for secret in spec.secrets_of(fn):
            if secret_version(state, secret) is None:
                out.setdefault(secret, []).append(fn.name)
    return out


def _functions(spec: Spec, tgt: Target, state: State, only: set[str], deploy_id: str, blocked: set[str]):
    steps, same = [], 0
    for fn in spec.only(only):
        if fn.name in blocked:
            continue
        step, _ = function_step(fn, spec, tgt, state, deploy_id)
        if step:
            steps.append(step)
        else:
            same += 1
    return steps, same


# -- triggers -------------------------------------------------------------------------------------
def _subscriptions(spec: Spec, tgt: Target, state: State, only: set[str]) -> tuple[list[Step], int]:
    steps, same = [], 0
    low, high = int(manifest.PUSH_MIN_BACKOFF_SECONDS), int(manifest.PUSH_MAX_BACKOFF_SECONDS)
    for fn in spec.only(only):
        if fn.kind != "pubsub":
            continue
        name, url = target.subscription_name(fn), tgt.function_url(fn.name)
        ack = max(10, min(600, fn.timeout_seconds))   # for push, the ack deadline is the request timeout
        dead = f"projects/{tgt.project}/topics/{manifest.DEAD_LETTER_TOPIC}"
        wanted = {"pushConfig.pushEndpoint": url, "pushConfig.oidcToken.serviceAccountEmail": tgt.account("invoker"),
                  "pushConfig.oidcToken.audience": url, "ackDeadlineSeconds": ack,
                  "deadLetterPolicy.deadLetterTopic": dead,
                  "deadLetterPolicy.maxDeliveryAttempts": manifest.MAX_DELIVERY_ATTEMPTS,
                  "retryPolicy.minimumBackoff": _duration(low), "retryPolicy.maximumBackoff": _duration(high)}
        flags = ["--push-endpoint", url, "--push-auth-service-account", tgt.account("invoker"),
                 "--push-auth-token-audience", url, "--ack-deadline", str(ack),
                 "--dead-letter-topic", manifest.DEAD_LETTER_TOPIC,
                 "--max-delivery-attempts", str(manifest.MAX_DELIVERY_ATTEMPTS),
                 "--min-retry-delay", _duration(low), "--max-retry-delay", _duration(high)]
        current = state.subscriptions.get(name)
        if current is None:
            steps.append(Step(f"subscription {name}", "create", "missing",
                              ["pubsub", "subscriptions", "create", name, "--topic", fn.topic, *flags]))
        elif diffs := _differences(current, wanted):
            steps.append(Step(f"subscription {name}", "update", "; ".join(diffs),
                              ["pubsub", "subscriptions", "update", name, *flags]))
        else:
            same += 1
    return steps, same


def _jobs(spec: Spec, tgt: Target, state: State, only: set[str]) -> tuple[list[Step], int]:
    steps, same = [], 0
    for fn in spec.only(only):
        if fn.kind != "schedule":
            continue
        url, zone = tgt.function_url(fn.name), validate.time_zone(fn)
        wanted = {"schedule": fn.schedule, "timeZone": zone, "httpTarget.uri": url, "httpTarget.httpMethod": "POST",
                  "httpTarget.oidcToken.serviceAccountEmail": tgt.account("invoker"),
                  "httpTarget.oidcToken.audience": url, "attemptDeadline": f"{fn.timeout_seconds}s",
                  "retryConfig.retryCount": SCHEDULER_RETRIES}
        flags = ["--location", tgt.region, "--schedule", fn.schedule, "--time-zone", zone, "--uri", url,
                 "--http-method", "POST", "--oidc-service-account-email", tgt.account("invoker"),
                 "--oidc-token-audience", url, "--attempt-deadline", f"{fn.timeout_seconds}s",
                 "--max-retry-attempts", str(SCHEDULER_RETRIES)]
        current = state.jobs.get(fn.name)
        if current is None:
            steps.append(Step(f"job {fn.name}", "create", "missing",
                              ["scheduler", "jobs", "create", "http", fn.name, *flags]))
        elif diffs := _differences(current, wanted):
            steps.append(Step(f"job {fn.name}", "update", "; ".join(diffs),
                              ["scheduler", "jobs", "update", "http", fn.name, *flags]))
        else:
            same += 1
    return steps, same


# -- front door -----------------------------------------------------------------------------------
def _frontdoor(spec: Spec, tgt: Target, state: State) -> tuple[list[Step], list[Step], list[Step]]:
    """(api, config, gateway) steps; each list is empty when that part is already as generated."""
    doc = frontdoor.document(tgt, spec.functions)
    config = frontdoor.config_id(doc)
    api = [] if state.gateway_api else [Step(f"api-gateway api {target.GATEWAY}", "create", "missing",
                                             ["api-gateway", "apis", "create", target.GATEWAY])]
    configs = [] if config in state.gateway_configs else [
        Step(f"api-gateway config {config}", "create", "the routes or backends changed",
             ["api-gateway", "api-configs", "create", config, "--api", target.GATEWAY,
              "--openapi-spec", "{dir}/openapi.json"], files={"openapi.json": frontdoor.render(doc)})]
    flags = ["--api", target.GATEWAY, "--api-config", config, "--location", tgt.region]
    if state.gateway is None:
        gateway = [Step(f"api-gateway gateway {target.GATEWAY}", "create", "missing",
                        ["api-gateway", "gateways", "create", target.GATEWAY, *flags])]
    elif not str(state.gateway.get("apiConfig", "")).endswith(f"/configs/{config}"):
        gateway = [Step(f"api-gateway gateway {target.GATEWAY}", "update",
                        f"config {str(state.gateway.get('apiConfig')).rsplit('/', 1)[-1]} -> {config}",
                        ["api-gateway", "gateways", "update", target.GATEWAY, *flags])]
    else:
        gateway = []
    return api, configs, gateway


# -- the plan -------------------------------------------------------------------------------------
def infrastructure(spec: Spec, tgt: Target, state: State) -> tuple[list[Wave], dict[str, int]]:
    api, configs, gateway = _frontdoor(spec, tgt, state)
    queues, same_queues = _queues(spec, tgt, state)
    waves = [
        Wave("APIs", _apis(state)),
        Wave("identities, secrets, topics, bucket, gateway API",
             _identities(tgt, state) + _secrets(spec, state) + _topics(spec, state) + _bucket(tgt, state) + api),
        Wave("grants, queues, gateway config", _grants(spec, tgt, state) + queues + configs + _dead_letter_hold(state)),
        Wave("gateway", gateway),
    ]
    return waves, {"queues": same_queues}


def functions_and_triggers(spec: Spec, tgt: Target, state: State, only: set[str], deploy_id: str):
    """Function deploys, then their triggers; a function waiting for a secret value gets neither."""
    wait = waiting(spec, state, only)
    held = {name for names in wait.values() for name in names}
    functions, same_fns = _functions(spec, tgt, state, only, deploy_id, held)
    ready = {f.name for f in spec.only(only)} - held
    subs, same_subs = _subscriptions(spec, tgt, state, ready)
    jobs, same_jobs = _jobs(spec, tgt, state, ready)
    waves = [Wave("functions", functions), Wave("subscriptions and scheduled jobs", subs + jobs)]
    blocked = [f"secret {secret} has no value yet (`gcloud secrets versions add {secret} --data-file=FILE "
               f"--project {tgt.project}`); waiting: {', '.join(names)}" for secret, names in sorted(wait.items())]
    return waves, {"functions": same_fns, "subscriptions": same_subs, "jobs": same_jobs}, blocked


def unmanaged(spec: Spec, state: State) -> list[str]:
    names = {f.name for f in spec.functions}
    subs = {target.subscription_name(f) for f in spec.functions if f.topic}
    out = [f"function {n}" for n in sorted(state.functions) if n not in names]
    out += [f"subscription {s}" for s in sorted(state.subscriptions)
            if "--" in s and s not in subs and not s.endswith("--relay") and s != DEAD_LETTER_HOLD]
    return out
