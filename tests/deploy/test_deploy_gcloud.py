"""scripts/deploy and scripts/rollback with the real gcloud against the fake Google APIs.

Assertions are on the request bodies gcloud sent (the wire format Google receives), for a whole
deploy from an empty project, a deploy with nothing changed, a plan, a one-function change and a
rollback (the fixtures in conftest.py, run once per session in that order).
"""
from __future__ import annotations

import base64
import json
import re

import pytest

from deploy_support import PROJECT, REGION, SECRET_VALUES
from deploy import target, validate
from utalk import manifest
from with_schedule import FUNCTIONS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
INVOKER = f"utalk-invoker@{PROJECT}.iam.gserviceaccount.com"
BASE = f"https://{REGION}-{PROJECT}.cloudfunctions.net"


def created_functions(run) -> dict[str, dict]:
    return {c.query["functionId"]: c.body for c in run.calls
            if c.api == "cloudfunctions" and c.method == "POST" and "functionId" in c.query}


def test_the_first_plan_lists_everything_and_calls_nothing_that_mutates(first_plan):
    assert first_plan.returncode == 0, first_plan.output
    assert first_plan.mutations() == []
    out = first_plan.output
    for name in ("service account utalk-api", "service account utalk-invoker", "topic dead-letters",
                 "queue bot-runs", "api-gateway gateway utalk", "subscription dead-letters--hold",
                 "secret UTALK_JWT_SECRET", "secret OPENAI_API_KEY"):
        assert re.search(rf"(create|deploy)\s+{name}\b", out), name
    assert "created empty" in out
    # every function mounts the platform's secrets: with no values yet all wait, and so do their triggers
    waiting = re.search(r"BLOCKED secret UTALK_JWT_SECRET has no value yet .*waiting: (.*)", out).group(1)
    assert waiting.split(", ") == [f.name for f in FUNCTIONS]
    assert re.search(r"BLOCKED secret OPENAI_API_KEY .*waiting: bot_run$", out, re.M)
    assert "function health" not in out and "message-outbound--message_sender" not in out


def test_secrets_are_created_empty_and_their_values_are_never_sent_or_printed(first_deploy, deployed):
    created = {c.query["secretId"]: c.body for c in first_deploy.calls
               if c.api == "secretmanager" and c.method == "POST" and "secretId" in c.query}
    assert set(created) == set(manifest.SECRETS)
    assert all("payload" not in body for body in created.values())
    assert not [c for c in deployed.calls if c.path.endswith(":addVersion") or c.path.endswith(":access")]
    wire = deployed.output + json.dumps([c.body for c in deployed.calls if not isinstance(c.body, bytes)])
    assert not [v for v in SECRET_VALUES.values() if v in wire]
    assert "BLOCKED secret UTALK_JWT_SECRET has no value yet" in first_deploy.output


def test_the_fake_knew_every_call_gcloud_made(deployed, project):
    assert project.fake.unhandled == []


def test_every_function_is_deployed_with_its_manifest_settings(deployed, project):
    bodies = created_functions(deployed)
    assert set(bodies) == {f.name for f in FUNCTIONS}
    host = project.fake.get("apigateway", f"projects/{PROJECT}/locations/{REGION}/gateways/utalk")["defaultHostname"]
    for fn in FUNCTIONS:
        body, config = bodies[fn.name], bodies[fn.name]["serviceConfig"]
        res = validate.resources(fn)
        assert body["buildConfig"]["entryPoint"] == fn.name and body["buildConfig"]["runtime"] == target.RUNTIME
        assert config["availableMemory"] == fn.memory, fn.name
        assert float(config["availableCpu"]) == pytest.approx(res.cpu), fn.name
        assert config["maxInstanceRequestConcurrency"] == fn.concurrency, fn.name
        assert config["timeoutSeconds"] == fn.timeout_seconds, fn.name
        assert (config["minInstanceCount"], config["maxInstanceCount"]) == (fn.min_instances, fn.max_instances)
        assert config["serviceAccountEmail"] == f"utalk-{fn.role}@{PROJECT}.iam.gserviceaccount.com", fn.name
        assert config["ingressSettings"] == ("ALLOW_ALL" if fn.public else "ALLOW_INTERNAL_ONLY"), fn.name
        secrets = {s["key"]: (s["secret"], s["version"]) for s in config.get("secretEnvironmentVariables", [])}
        assert secrets == {s: (s, "1") for s in manifest.PLATFORM_SECRETS + fn.secrets}, fn.name
        env = config["environmentVariables"]
        assert env["UTALK_ENV"] == "production" and env["GOOGLE_CLOUD_PROJECT"] == PROJECT
        assert env["UTALK_INVOKER_SERVICE_ACCOUNT"] == INVOKER
        assert env["UTALK_FUNCTIONS_BASE_URL"] == BASE
        assert env["UTALK_PUBLIC_BASE_URL"] == f"https://{host}"
        assert env["THREADS"] == str(fn.concurrency)
        assert re.fullmatch(r"[0-9a-f]{16}", body["labels"]["utalk-hash"])


def test_public_functions_allow_everyone_and_internal_ones_only_the_invoker(deployed):
    policies: dict[str, list] = {}
    for c in deployed.calls:
        if c.api == "run" and c.path.endswith(":setIamPolicy"):
            service = c.path.split("/services/")[1].split(":")[0]
            policies.setdefault(service, []).append(c.body["policy"].get("bindings", []))
    for fn in FUNCTIONS:
        last = policies[target.service_name(fn.name)][-1]
        invokers = {m for b in last if b["role"] == "roles/run.invoker" for m in b["members"]}
        assert invokers == ({"allUsers"} if fn.public else {f"serviceAccount:{INVOKER}"}), fn.name


def test_push_subscriptions_authenticate_as_the_invoker_and_dead_letter(deployed):
    subs = {c.path.rsplit("/", 1)[1]: c.body for c in deployed.calls
            if c.api == "pubsub" and c.method == "PUT" and "/subscriptions/" in c.path}
    hold = subs.pop("dead-letters--hold")      # dead letters are kept only where a subscription holds them
    assert hold["topic"].endswith("/topics/dead-letters") and "pushConfig" not in hold
    assert hold["messageRetentionDuration"] == "604800s"
    pushed = [f for f in FUNCTIONS if f.topic]
    assert set(subs) == {f"{f.topic}--{f.name}" for f in pushed}
    for fn in pushed:
        body, url = subs[f"{fn.topic}--{fn.name}"], f"{BASE}/{fn.name}"
        assert body["topic"] == f"projects/{PROJECT}/topics/{fn.topic}"
        assert body["pushConfig"] == {"pushEndpoint": url,
                                      "oidcToken": {"serviceAccountEmail": INVOKER, "audience": url}}
        assert body["ackDeadlineSeconds"] == max(10, min(600, fn.timeout_seconds))
        assert body["deadLetterPolicy"] == {"deadLetterTopic": f"projects/{PROJECT}/topics/dead-letters",
                                            "maxDeliveryAttempts": manifest.MAX_DELIVERY_ATTEMPTS}
        assert body["retryPolicy"] == {"minimumBackoff": "1s", "maximumBackoff": "60s"}


def test_queues_carry_the_manifest_rates_and_retries(deployed):
    queues = {c.body["name"].rsplit("/", 1)[1]: c.body for c in deployed.calls
              if c.api == "cloudtasks" and c.method == "POST"}
    assert set(queues) == {q.name for q in manifest.QUEUES}
    for q in manifest.QUEUES:
        body = queues[q.name]
        assert body["rateLimits"] == {"maxDispatchesPerSecond": q.max_dispatches_per_second,
                                      "maxConcurrentDispatches": q.max_concurrent_dispatches}
        assert body["retryConfig"]["maxAttempts"] == q.max_attempts
        assert body["retryConfig"]["minBackoff"] == f"{q.min_backoff_seconds:g}s"
        assert body["retryConfig"]["maxBackoff"] == f"{q.max_backoff_seconds:g}s"


def test_scheduled_rows_become_jobs_that_call_with_the_invokers_token(deployed):
    jobs = {body["name"].rsplit("/", 1)[1]: body for body in deployed.bodies("cloudscheduler", "POST")}
    assert set(jobs) == {f.name for f in FUNCTIONS if f.schedule}
    job = jobs["daily_digest"]
    url = f"{BASE}/daily_digest"
    assert job["name"].endswith("/jobs/daily_digest")
    assert (job["schedule"], job["timeZone"]) == ("0 7 * * *", "America/Bogota")
    assert job["httpTarget"] == {"uri": url, "httpMethod": "POST",
                                 "oidcToken": {"serviceAccountEmail": INVOKER, "audience": url}}
    assert job["attemptDeadline"] == "120s" and job["retryConfig"]["retryCount"] == 3


def test_identities_and_least_privilege_grants(deployed):
    accounts = {b["accountId"] for b in deployed.bodies("iam", "POST", r"serviceAccounts$")}
    assert accounts == {f"utalk-{i}" for i in target.IDENTITIES}
    [project_policy] = deployed.bodies("cloudresourcemanager", "POST", r":setIamPolicy$")
    granted = {b["role"]: set(b["members"]) for b in project_policy["policy"]["bindings"]}
    member = lambda i: f"serviceAccount:utalk-{i}@{PROJECT}.iam.gserviceaccount.com"   # noqa: E731
    assert member("invoker") not in {m for ms in granted.values() for m in ms}   # only run.invoker, per function
    assert granted["roles/datastore.user"] >= {member(r) for r in manifest.ROLES}
    assert "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com" in granted[
        "roles/pubsub.publisher"]
    readers = {c.path.split("/secrets/")[1].split(":")[0]: c.body["policy"].get("bindings", []) for c in deployed.calls
               if c.api == "secretmanager" and c.path.endswith(":setIamPolicy")}
    assert readers["OPENAI_API_KEY"] == [{"role": "roles/secretmanager.secretAccessor",
                                          "members": [member("internal")]}]
    assert readers["FIREBASE_SERVICE_ACCOUNT"][0]["members"] == [member("api")]
    for platform in manifest.PLATFORM_SECRETS:          # every function mounts them
        assert readers[platform][0]["members"] == sorted(member(r) for r in manifest.ROLES)


def test_each_function_uploads_its_import_closure_only(project, deployed):
    files = project.fake.upload_files(f"projects/{PROJECT}/locations/{REGION}/functions/health")
    assert {"main.py", "health.py", "utalk/manifest.py", "utalk/http.py", "requirements.txt"} <= set(files)
    assert "utalk/services/inbound.py" not in files and "api_auth.py" not in files
    inbound = project.fake.upload_files(f"projects/{PROJECT}/locations/{REGION}/functions/twilio_inbound")
    assert "utalk/services/inbound.py" in inbound and "webhooks_twilio.py" in inbound


def test_the_gateway_routes_every_http_row_to_its_function(deployed, project):
    [config] = deployed.bodies("apigateway", "POST", r"/configs$")
    doc = json.loads(base64.b64decode(config["openapiDocuments"][0]["document"]["contents"]))
    http = [f for f in FUNCTIONS if f.kind == "http"]
    ops = {(m.upper(), path): op for path, item in doc["paths"].items() for m, op in item.items() if m != "options"}
    assert set(ops) == {(f.method, f.path) for f in http}
    for fn in http:
        backend = ops[(fn.method, fn.path)]["x-google-backend"]
        assert backend["address"] == f"https://{target.service_name(fn.name)}-123456789012.{REGION}.run.app"
        assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS" and backend["disable_auth"] is True
    assert all("options" in item for item in doc["paths"].values())
    [gateway] = deployed.bodies("apigateway", "POST", r"/gateways$")
    assert gateway["apiConfig"].endswith("/configs/" + config["name"].rsplit("/", 1)[1])


def test_rules_go_out_with_firebase_from_the_repository_root(deployed, project):
    cwd, *argv = (project.home / "firebase-command.txt").read_text().splitlines()
    assert argv == ["deploy", "--only", "firestore:rules,firestore:indexes,storage", "--project", PROJECT,
                    "--non-interactive", "--force"]
    assert (cwd + "/firebase.json").endswith("/firebase.json") and json.load(open(cwd + "/firebase.json"))[
        "firestore"]["location"]


def test_a_deploy_with_nothing_changed_changes_nothing(unchanged_deploy):
    assert unchanged_deploy.returncode == 0, unchanged_deploy.output
    assert unchanged_deploy.mutations() == []
    assert "0 change(s)" in unchanged_deploy.output


def test_plan_reports_trigger_changes_without_making_them(trigger_plan):
    assert trigger_plan.returncode == 0, trigger_plan.output
    assert trigger_plan.mutations() == []
    out = trigger_plan.output
    rate = f"{manifest.queue('bot-runs').max_dispatches_per_second:g}"
    assert re.search(rf"update\s+queue bot-runs\s+rateLimits.maxDispatchesPerSecond {rate}(\.0)? -> 2.0", out), out
    assert re.search(r"update\s+subscription message-outbound--message_sender\s+ackDeadlineSeconds 120 -> 300", out)
    assert re.search(r"deploy\s+function message_sender\s+hash", out)   # its timeout is a setting too
    assert re.search(r"deploy\s+function agents_set_status", out)      # tuned.py's change, not applied yet


def test_a_one_function_change_touches_that_function_only(one_function_deploy):
    mutations = one_function_deploy.mutations()
    patched = [c for c in mutations if c.api == "cloudfunctions" and c.method == "PATCH"]
    assert [c.path.rsplit("/", 1)[1] for c in patched] == ["agents_set_status"]
    assert patched[0].body["serviceConfig"]["availableMemory"] == "512Mi"
    others = [c for c in mutations if c not in patched and not (
        c.api == "run" and "/services/agents-set-status:" in c.path)]
    assert others == [], others


def test_a_rollback_plan_moves_nothing(rollback_plan):
    assert rollback_plan.returncode == 0, rollback_plan.output
    assert rollback_plan.mutations() == []
    assert re.search(r"agents_set_status: agents-set-status-00002-\d+ -> agents-set-status-00001-\d+ \(plan\)",
                     rollback_plan.output), rollback_plan.output


def test_rollback_moves_the_last_deploys_function_back_one_revision(rollback, project):
    puts = [c for c in rollback.calls if c.api == "run" and c.method == "PUT"]
    assert [c.path.rsplit("/", 1)[1] for c in puts] == ["agents-set-status"]
    [traffic] = puts[0].body["spec"]["traffic"]
    service = project.fake.get("run", f"namespaces/{PROJECT}/services/agents-set-status")
    assert traffic["percent"] == 100 and traffic["revisionName"] != service["status"]["latestReadyRevisionName"]
    assert traffic["revisionName"].startswith("agents-set-status-00001-")
    assert "agents_set_status:" in rollback.output


def test_timings(deployed, unchanged_deploy, one_function_deploy, rollback):
    """Not an assertion on time (shared machine): the figures docs/deploy.md's arithmetic starts from."""
    for name, run in (("full", deployed), ("unchanged", unchanged_deploy), ("one function", one_function_deploy),
                      ("rollback", rollback)):
        summary = [line for line in run.output.splitlines() if "gcloud calls" in line]
        print(name, summary)
    assert summary
