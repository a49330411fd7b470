"""What the project has now, read with gcloud in three parallel rounds (nothing here mutates).

Round one finds the project number and the enabled APIs; an API that is not enabled yet has
nothing to list, so round two lists only the enabled ones, with each secret's versions; round three
reads the two policies the deploy merges into (the invoker's and the bucket's) where they exist.
A secret's policy is not read: the deploy owns it, and records its readers as a label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from deploy import iam, target
from deploy.gcloud import Gcloud, parallel


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


@dataclass
class State:
    project_number: str = ""
    enabled: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    project_policy: dict = field(default_factory=dict)
    secrets: dict[str, dict] = field(default_factory=dict)        # name -> {"versions": [...], "labels": {...}}
    topics: set[str] = field(default_factory=set)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    queues: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    functions: dict[str, dict] = field(default_factory=dict)
    bucket: dict | None = None
    bucket_policy: dict = field(default_factory=dict)
    account_policies: dict[str, dict] = field(default_factory=dict)   # identity -> its account's policy
    gateway_api: bool = False
    gateway_configs: set[str] = field(default_factory=set)
    gateway: dict | None = None


def read(gcloud: Gcloud, tgt: target.Target, secrets: tuple[str, ...], workers: int = 8) -> State:
    state = State()
    project, services = parallel(lambda args: gcloud.json(args), [
        ["projects", "describe", tgt.project],
        ["services", "list", "--enabled"]], workers)
    state.project_number = str(project["projectNumber"])
    state.enabled = {s["config"]["name"] for s in services}
    on = state.enabled.__contains__
    reads = {
        "accounts": (on("iam.googleapis.com"), ["iam", "service-accounts", "list"], []),
        "policy": (True, ["projects", "get-iam-policy", tgt.project], {}),
        "secrets": (on("secretmanager.googleapis.com"), ["secrets", "list"], []),
        "topics": (on("pubsub.googleapis.com"), ["pubsub", "topics", "list"], []),
        "subscriptions": (on("pubsub.googleapis.com"), ["pubsub", "subscriptions", "list"], []),
        "queues": (on("cloudtasks.googleapis.com"), ["tasks", "queues", "list", "--location", tgt.region], []),
        "jobs": (on("cloudscheduler.googleapis.com"), ["scheduler", "jobs", "list", "--location", tgt.region], []),
        "functions": (on("cloudfunctions.googleapis.com"), ["functions", "list", "--regions", tgt.region], []),
        "bucket": (on("storage.googleapis.com"), ["storage", "buckets", "describe", f"gs://{tgt.bucket}"], None),
        "configs": (on("apigateway.googleapis.com"),     # not found: the API itself is missing
                    ["api-gateway", "api-configs", "list", "--api", target.GATEWAY], None),
        "gateway": (on("apigateway.googleapis.com"),
                    ["api-gateway", "gateways", "describe", target.GATEWAY, "--location", tgt.region], None),
    }
    for secret in secrets:
        reads[f"versions:{secret}"] = (on("secretmanager.googleapis.com"), ["secrets", "versions", "list", secret], [])
    wanted = [(key, args, empty) for key, (enabled, args, empty) in reads.items() if enabled]
    results = dict(zip([w[0] for w in wanted],
                       parallel(lambda w: gcloud.json(w[1], missing=w[2]), wanted, workers)))
    state.accounts = {a["email"] for a in results.get("accounts", [])}
    state.project_policy = results.get("policy", {})
    state.topics = {_short(t["name"]) for t in results.get("topics", [])}
    state.subscriptions = {_short(s["name"]): s for s in results.get("subscriptions", [])}
    state.queues = {_short(q["name"]): q for q in results.get("queues", [])}
    state.jobs = {_short(j["name"]): j for j in results.get("jobs", [])}
    state.functions = {_short(f["name"]): f for f in results.get("functions", [])
                       if f.get("environment", "GEN_2") == "GEN_2"}
    state.bucket = results.get("bucket")
    state.gateway_api = results.get("configs") is not None
    state.gateway_configs = {_short(c["name"]) for c in results.get("configs") or []}
    state.gateway = results.get("gateway")
    for secret in results.get("secrets", []):
        versions = results.get(f"versions:{_short(secret['name'])}", [])
        state.secrets[_short(secret["name"])] = {
            "labels": secret.get("labels") or {},
            "versions": sorted((int(_short(v["name"])) for v in versions if v.get("state") == "ENABLED"), reverse=True)}

    third = [(identity, ["iam", "service-accounts", "get-iam-policy", tgt.account(identity)])
             for identity in iam.account_bindings(tgt) if tgt.account(identity) in state.accounts]
    if state.bucket:
        third.append(("bucket", ["storage", "buckets", "get-iam-policy", f"gs://{tgt.bucket}"]))
    for (kind, _), answer in zip(third, parallel(lambda r: gcloud.json(r[1], missing={}), third, workers)):
        if kind == "bucket":
            state.bucket_policy = answer
        else:
            state.account_policies[kind] = answer
    return state
