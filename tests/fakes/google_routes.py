"""The routes of the fake Google APIs (`google_api.py`): one small function per call gcloud makes.

Each route is (api, method, path regex) -> handler(fake, call, match) returning a JSON body,
(status, body), or raising `google_api.Error`. Called with the fake's lock held.
"""
from __future__ import annotations

import base64
import copy
import re
from datetime import datetime, timezone

from fakes.google_api import Call, Error, FakeGoogleApis, conflict, not_found

ROUTES: list[tuple[str, str, re.Pattern, object]] = []
NOW = "2026-01-01T00:00:00Z"


def route(api: str, method: str, pattern: str):
    def register(fn):
        ROUTES.append((api, method, re.compile("^" + pattern + "$"), fn))
        return fn
    return register


def dispatch(fake: FakeGoogleApis, call: Call, version: str):
    if call.api == "iam" and call.path.startswith("projects/-/"):   # gcloud's "any project" form
        call.path = f"projects/{fake.project}/" + call.path[len("projects/-/"):]
    for api, method, pattern, fn in ROUTES:
        if api == call.api and method == call.method:
            m = pattern.match(call.path)
            if m:
                return fn(fake, call, m)
    return None


def _body(call: Call) -> dict:
    return call.body if isinstance(call.body, dict) else {}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- IAM policies (every resource kind shares the getIamPolicy / setIamPolicy pair) -----------
def _policy(fake, api: str, name: str) -> dict:
    return fake.resources.setdefault(f"{api}:{name}#iam", {"version": 1, "etag": "BwYAAAAAAAA=", "bindings": []})


def _etag(fake) -> str:
    return base64.b64encode(fake._next().to_bytes(8, "big")).decode()


def _get_policy(fake, call, m):
    api = call.api
    name = m.group(1)
    if api not in ("cloudresourcemanager",) and f"{api}:{name}" not in fake.resources:
        raise not_found(name)
    return copy.deepcopy(_policy(fake, api, name))


def _set_policy(fake, call, m):
    name = m.group(1)
    if call.api != "cloudresourcemanager" and f"{call.api}:{name}" not in fake.resources:
        raise not_found(name)
    policy = copy.deepcopy(_body(call).get("policy", {}))
    current = _policy(fake, call.api, name)
    if policy.get("etag") and policy["etag"] != current["etag"]:
        raise Error(409, "There were concurrent policy changes.", "ABORTED")
    policy["etag"] = _etag(fake)
    fake.resources[f"{call.api}:{name}#iam"] = policy
    return copy.deepcopy(policy)


for _api, _prefix in (("cloudresourcemanager", r"(projects/[^/:]+)"),
                      ("pubsub", r"(projects/[^/]+/(?:topics|subscriptions)/[^/:]+)"),
                      ("iam", r"(projects/[^/]+/serviceAccounts/[^/:]+)"),
                      ("cloudfunctions", r"(projects/[^/]+/locations/[^/]+/functions/[^/:]+)"),
                      ("cloudtasks", r"(projects/[^/]+/locations/[^/]+/queues/[^/:]+)")):
    route(_api, "POST", _prefix + ":getIamPolicy")(_get_policy)
    route(_api, "POST", _prefix + ":setIamPolicy")(_set_policy)


def _run_policy(verb):
    def handle(fake, call, m):
        project, service = m.groups()
        fake._get("run", f"namespaces/{project}/services/{service}")
        name = f"projects/{project}/services/{service}"
        policy = _policy(fake, "run", name)
        if verb == "get":
            return copy.deepcopy(policy)
        new = copy.deepcopy(_body(call).get("policy", {}))
        if new.get("etag") and new["etag"] != policy["etag"]:
            raise Error(409, "There were concurrent policy changes.", "ABORTED")
        new["etag"] = _etag(fake)
        fake.resources[f"run:{name}#iam"] = new
        return copy.deepcopy(new)
    return handle


for _method in ("GET", "POST"):
    route("run", _method, r"projects/([^/]+)/locations/[^/]+/services/([^/:]+):getIamPolicy")(_run_policy("get"))
route("run", "POST", r"projects/([^/]+)/locations/[^/]+/services/([^/:]+):setIamPolicy")(_run_policy("set"))


# -- Resource Manager, Service Usage, Cloud Build ---------------------------------------------
@route("cloudresourcemanager", "GET", r"projects/([^/]+)")
def _project(fake, call, m):
    if m.group(1) not in (fake.project, fake.project_number):
        raise not_found(f"projects/{m.group(1)}")
    return {"projectNumber": fake.project_number, "projectId": fake.project, "lifecycleState": "ACTIVE",
            "name": fake.project, "createTime": NOW, "parent": {"type": "organization", "id": "1"}}


@route("serviceusage", "GET", r"projects/([^/]+)/services")
def _services_list(fake, call, m):
    enabled = fake.resources.setdefault("serviceusage:enabled", {"names": []})["names"]
    services = [{"name": f"projects/{fake.project_number}/services/{s}", "config": {"name": s},
                 "state": "ENABLED", "parent": f"projects/{fake.project_number}"} for s in sorted(enabled)]
    return {"services": services}


@route("serviceusage", "GET", r"projects/([^/]+)/services/([^/:]+)")
def _service_get(fake, call, m):
    enabled = fake.resources.setdefault("serviceusage:enabled", {"names": []})["names"]
    state = "ENABLED" if m.group(2) in enabled else "DISABLED"
    return {"name": f"projects/{fake.project_number}/services/{m.group(2)}", "config": {"name": m.group(2)},
            "state": state, "parent": f"projects/{fake.project_number}"}


@route("serviceusage", "POST", r"projects/([^/]+)/services:batchEnable")
def _services_enable(fake, call, m):
    enabled = fake.resources.setdefault("serviceusage:enabled", {"names": []})["names"]
    for service in _body(call).get("serviceIds", []):
        if service not in enabled:
            enabled.append(service)
    return fake._operation("serviceusage", "", {"@type": "type.googleapis.com/google.api.serviceusage.v1."
                                                "BatchEnableServicesResponse"}, done=True) | {
        "name": f"operations/batch-enable-{fake._next()}"}


@route("serviceusage", "GET", r"(operations/[^/]+)")
def _su_operation(fake, call, m):
    return {"name": m.group(1), "done": True, "response": {}}


@route("cloudbuild", "GET", r"projects/([^/]+)/locations/([^/]+)/defaultServiceAccount")
def _build_sa(fake, call, m):
    return {"name": f"projects/{m.group(1)}/locations/{m.group(2)}/defaultServiceAccount",
            "serviceAccountEmail": f"projects/{m.group(1)}/serviceAccounts/"
                                   f"{fake.project_number}-compute@developer.gserviceaccount.com"}


# -- IAM service accounts ----------------------------------------------------------------------
@route("iam", "GET", r"projects/([^/]+)/serviceAccounts")
def _sa_list(fake, call, m):
    return {"accounts": fake._list("iam", f"projects/{m.group(1)}", "serviceAccounts")}


@route("iam", "POST", r"projects/([^/]+)/serviceAccounts")
def _sa_create(fake, call, m):
    body = _body(call)
    email = f"{body['accountId']}@{m.group(1)}.iam.gserviceaccount.com"
    name = f"projects/{m.group(1)}/serviceAccounts/{email}"
    account = {"name": name, "projectId": m.group(1), "uniqueId": str(10 ** 20 + fake._next()), "email": email,
               "displayName": body.get("serviceAccount", {}).get("displayName", ""),
               "description": body.get("serviceAccount", {}).get("description", ""),
               "etag": "MDEwMjE5MjA=", "oauth2ClientId": "1"}
    return fake._put("iam", name, account)


@route("iam", "GET", r"(projects/[^/]+/serviceAccounts/[^/:]+)")
def _sa_get(fake, call, m):
    return fake._get("iam", m.group(1))


# -- Secret Manager ----------------------------------------------------------------------------
@route("secretmanager", "GET", r"projects/([^/]+)/secrets")
def _secrets_list(fake, call, m):
    return {"secrets": fake._list("secretmanager", f"projects/{fake.project_number}", "secrets"),
            "totalSize": 0}


@route("secretmanager", "POST", r"projects/([^/]+)/secrets")
def _secret_create(fake, call, m):
    name = f"projects/{fake.project_number}/secrets/{call.query['secretId']}"
    secret = {"name": name, "replication": _body(call).get("replication", {}), "createTime": _now(),
              "etag": '"1"', "labels": _body(call).get("labels", {})}
    return fake._put("secretmanager", name, secret)


def _secret_name(fake, project: str, secret: str) -> str:
    return f"projects/{fake.project_number}/secrets/{secret}"


@route("secretmanager", "GET", r"projects/([^/]+)/secrets/([^/:]+)")
def _secret_get(fake, call, m):
    return fake._get("secretmanager", _secret_name(fake, *m.groups()))


@route("secretmanager", "GET", r"projects/([^/]+)/secrets/([^/:]+)/versions")
def _versions_list(fake, call, m):
    name = _secret_name(fake, *m.groups())
    fake._get("secretmanager", name)
    versions = sorted(fake._list("secretmanager", name, "versions"), key=lambda v: -int(v["name"].rsplit("/")[-1]))
    if "state:ENABLED" in call.query.get("filter", "").replace(" ", ""):
        versions = [v for v in versions if v["state"] == "ENABLED"]
    return {"versions": versions, "totalSize": len(versions)}


@route("secretmanager", "POST", r"projects/([^/]+)/secrets/([^/:]+):addVersion")
def _version_add(fake, call, m):
    name = _secret_name(fake, *m.groups())
    fake._get("secretmanager", name)
    number = len(fake._list("secretmanager", name, "versions")) + 1
    version = {"name": f"{name}/versions/{number}", "createTime": _now(), "state": "ENABLED",
               "etag": '"1"'}
    fake.resources[f"secretmanager:{name}/versions/{number}#data"] = _body(call).get("payload", {})
    return fake._put("secretmanager", version["name"], version)


for _verb in ("getIamPolicy", "setIamPolicy"):
    def _secret_policy(fake, call, m, _verb=_verb):
        name = _secret_name(fake, *m.groups())
        inner = re.match(r"(.*)", name)
        return (_get_policy if _verb == "getIamPolicy" else _set_policy)(fake, call, inner)
    route("secretmanager", "POST", rf"projects/([^/]+)/secrets/([^/:]+):{_verb}")(_secret_policy)
    route("secretmanager", "GET", rf"projects/([^/]+)/secrets/([^/:]+):{_verb}")(_secret_policy)


# -- Pub/Sub -----------------------------------------------------------------------------------
@route("pubsub", "GET", r"projects/([^/]+)/(topics|subscriptions)")
def _pubsub_list(fake, call, m):
    return {m.group(2): fake._list("pubsub", f"projects/{m.group(1)}", m.group(2))}


@route("pubsub", "PUT", r"(projects/[^/]+/topics/[^/:]+)")
def _topic_create(fake, call, m):
    return fake._put("pubsub", m.group(1), {"name": m.group(1), **{k: v for k, v in _body(call).items()
                                                                   if k != "name"}})


@route("pubsub", "PUT", r"(projects/[^/]+/subscriptions/[^/:]+)")
def _subscription_create(fake, call, m):
    body = copy.deepcopy(_body(call))
    fake._get("pubsub", body["topic"])
    body.setdefault("ackDeadlineSeconds", 10)
    body.setdefault("messageRetentionDuration", "604800s")
    body["state"] = "ACTIVE"
    return fake._put("pubsub", m.group(1), body)


@route("pubsub", "GET", r"(projects/[^/]+/(?:topics|subscriptions)/[^/:]+)")
def _pubsub_get(fake, call, m):
    return fake._get("pubsub", m.group(1))


@route("pubsub", "PATCH", r"(projects/[^/]+/(?:topics|subscriptions)/[^/:]+)")
def _pubsub_patch(fake, call, m):
    body = _body(call)
    kind = "subscription" if "/subscriptions/" in m.group(1) else "topic"
    return fake._patch("pubsub", m.group(1), body.get(kind, {}), body.get("updateMask"))


# -- Cloud Tasks and Cloud Scheduler (same shape: POST parent/collection, PATCH ?updateMask) ---
def _collection(api: str, collection: str):
    @route(api, "GET", rf"(projects/[^/]+/locations/[^/]+)/{collection}")
    def _list(fake, call, m):
        return {collection: fake._list(api, m.group(1), collection)}

    @route(api, "POST", rf"(projects/[^/]+/locations/[^/]+)/{collection}")
    def _create(fake, call, m):
        body = copy.deepcopy(_body(call))
        if api == "cloudtasks":
            body.setdefault("state", "RUNNING")
        else:
            body.setdefault("state", "ENABLED")
            body.setdefault("userUpdateTime", _now())
        return fake._put(api, body["name"], body)

    @route(api, "GET", rf"(projects/[^/]+/locations/[^/]+/{collection}/[^/:]+)")
    def _get(fake, call, m):
        return fake._get(api, m.group(1))

    @route(api, "PATCH", rf"(projects/[^/]+/locations/[^/]+/{collection}/[^/:]+)")
    def _update(fake, call, m):
        if api == "cloudtasks" and f"{api}:{m.group(1)}" not in fake.resources:
            body = copy.deepcopy(_body(call)) | {"name": m.group(1), "state": "RUNNING"}
            return fake._put(api, m.group(1), body)   # queues.patch creates a missing queue
        return fake._patch(api, m.group(1), _body(call), call.query.get("updateMask"))


_collection("cloudtasks", "queues")
_collection("cloudscheduler", "jobs")


# -- Cloud Functions v2 ------------------------------------------------------------------------
RUNTIMES = ("python310", "python311", "python312", "python313")
FN = r"(projects/[^/]+/locations/([^/]+))/functions"


@route("cloudfunctions", "GET", r"projects/([^/]+)/locations/([^/]+)/runtimes")
def _runtimes(fake, call, m):
    return {"runtimes": [{"name": r, "displayName": r, "stage": "GA", "environment": "GEN_2"} for r in RUNTIMES]}


@route("cloudfunctions", "POST", FN + r":generateUploadUrl")
def _upload_url(fake, call, m):
    upload = f"upload-{fake._next()}.zip"
    return {"uploadUrl": f"{fake.base_url}/upload/{upload}",
            "storageSource": {"bucket": f"gcf-v2-uploads-{fake.project_number}-{m.group(2)}", "object": upload}}


@route("upload", "PUT", r"(upload-\d+\.zip)")
def _upload(fake, call, m):
    fake.uploads[m.group(1)] = call.body if isinstance(call.body, bytes) else b""
    return {}


@route("cloudfunctions", "GET", r"projects/([^/]+)/locations")
def _fn_locations(fake, call, m):
    return {"locations": [{"name": f"projects/{m.group(1)}/locations/{r}", "locationId": r}
                          for r in ("us-central1", "europe-west1", "southamerica-east1")]}


@route("cloudfunctions", "GET", FN)
def _functions_list(fake, call, m):
    parent = m.group(1)
    if call.version == "v1":   # the 1st-generation listing gcloud also asks for
        return {"functions": []}
    if m.group(2) == "-":
        found = [copy.deepcopy(v) for k, v in sorted(fake.resources.items())
                 if k.startswith("cloudfunctions:") and "/functions/" in k and "#" not in k]
    else:
        found = fake._list("cloudfunctions", parent, "functions")
    return {"functions": found}


@route("cloudfunctions", "GET", FN + r"/([^/:]+)")
def _function_get(fake, call, m):
    return fake._get("cloudfunctions", f"{m.group(1)}/functions/{m.group(3)}")


def _serve_function(fake, name: str, fn: dict, region: str) -> dict:
    """What the API fills in once a deploy finishes: state, URLs, the revision it now serves."""
    short = name.rsplit("/", 1)[-1]
    service = short.replace("_", "-").lower()
    project = name.split("/")[1]
    config = fn.setdefault("serviceConfig", {})
    revision = _new_revision(fake, project, region, service, fn)
    config.update({"service": f"projects/{project}/locations/{region}/services/{service}",
                   "uri": f"https://{service}-{fake.project_number}.{region}.run.app",
                   "revision": revision})
    fn.update({"name": name, "state": "ACTIVE", "environment": "GEN_2", "updateTime": _now(),
               "url": f"https://{region}-{project}.cloudfunctions.net/{short}"})
    return fn


@route("cloudfunctions", "POST", FN)
def _function_create(fake, call, m):
    name = f"{m.group(1)}/functions/{call.query['functionId']}"
    if f"cloudfunctions:{name}" in fake.resources:
        raise conflict(name)
    fn = _serve_function(fake, name, copy.deepcopy(_body(call)), m.group(2))
    fake._put("cloudfunctions", name, fn)
    return fake._operation("cloudfunctions", m.group(1), fn, metadata=_fn_metadata(name, "create"))


@route("cloudfunctions", "PATCH", FN + r"/([^/:]+)")
def _function_patch(fake, call, m):
    name = f"{m.group(1)}/functions/{m.group(3)}"
    fn = fake._patch("cloudfunctions", name, _body(call), call.query.get("updateMask"))
    _serve_function(fake, name, fn, m.group(2))
    return fake._operation("cloudfunctions", m.group(1), copy.deepcopy(fn), metadata=_fn_metadata(name, "update"))


def _fn_metadata(name: str, verb: str) -> dict:
    stages = [{"name": s, "state": "COMPLETE", "message": ""} for s in
              ("BUILD", "SERVICE")]
    return {"@type": "type.googleapis.com/google.cloud.functions.v2.OperationMetadata", "target": name,
            "verb": verb, "apiVersion": "v2", "createTime": NOW, "stages": stages}


@route("cloudfunctions", "GET", r"(projects/[^/]+/locations/[^/]+/operations/[^/]+)")
def _function_operation(fake, call, m):
    return fake._get("cloudfunctions", m.group(1))


# -- Cloud Run v1 (Knative serving): the services under gen2 functions, for traffic moves --------
def _new_revision(fake, project: str, region: str, service: str, fn: dict) -> str:
    key = f"run:namespaces/{project}/services/{service}"
    svc = fake.resources.get(key)
    generation = (svc["metadata"]["generation"] + 1) if svc else 1
    revision = f"{service}-{generation:05d}-{fake._next():03d}"
    fake.resources[f"run:namespaces/{project}/revisions/{revision}"] = {
        "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": revision, "namespace": fake.project_number, "generation": 1,
                     "creationTimestamp": _now(),
                     "labels": {"serving.knative.dev/service": service,
                                "serving.knative.dev/configurationGeneration": str(generation),
                                "cloud.googleapis.com/location": region}},
        "spec": {"containerConcurrency": fn.get("serviceConfig", {}).get("maxInstanceRequestConcurrency", 1)},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 1}}
    traffic = [{"revisionName": revision, "percent": 100, "latestRevision": True}]
    fake.resources[key] = {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": service, "namespace": fake.project_number, "generation": generation,
                     "uid": f"uid-{service}", "resourceVersion": f"v{generation}",
                     "labels": {"cloud.googleapis.com/location": region},
                     "annotations": {"run.googleapis.com/ingress": "all"}},
        "spec": {"template": {"metadata": {"name": revision}, "spec": {}}, "traffic": traffic},
        "status": _run_status(fake, service, generation, revision, traffic, region)}
    return revision


def _run_status(fake, service, generation, latest, traffic, region) -> dict:
    return {"observedGeneration": generation, "latestReadyRevisionName": latest,
            "latestCreatedRevisionName": latest,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": NOW}
                           for t in ("Ready", "ConfigurationsReady", "RoutesReady")],
            "traffic": [dict(t, percent=t.get("percent", 0)) for t in traffic],
            "url": f"https://{service}-{fake.project_number}.{region}.run.app",
            "address": {"url": f"https://{service}-{fake.project_number}.{region}.run.app"}}


@route("run", "GET", r"serving.knative.dev/v1/namespaces/([^/]+)/services/([^/]+)")
def _run_service(fake, call, m):
    return fake._get("run", f"namespaces/{m.group(1)}/services/{m.group(2)}")


@route("run", "PUT", r"serving.knative.dev/v1/namespaces/([^/]+)/services/([^/]+)")
def _run_replace(fake, call, m):
    key = f"namespaces/{m.group(1)}/services/{m.group(2)}"
    current = fake._get("run", key)
    body = copy.deepcopy(_body(call))
    revisions = {r["metadata"]["name"] for k, r in fake.resources.items() if k.startswith(
        f"run:namespaces/{m.group(1)}/revisions/")}
    traffic = body.get("spec", {}).get("traffic", [])
    latest = current["status"]["latestReadyRevisionName"]
    for t in traffic:
        if t.get("revisionName") and t["revisionName"] not in revisions:
            raise Error(400, f"Revision {t['revisionName']} not found", "INVALID_ARGUMENT")
    if sum(t.get("percent", 0) for t in traffic) != 100:
        raise Error(400, "Traffic percentages must add up to 100", "INVALID_ARGUMENT")
    generation = current["metadata"]["generation"] + 1
    body["metadata"]["generation"] = generation
    region = current["metadata"]["labels"].get("cloud.googleapis.com/location", "us-central1")
    resolved = [dict(t, revisionName=t.get("revisionName") or latest) for t in traffic]
    body["status"] = _run_status(fake, m.group(2), generation, latest, resolved, region)
    fake.resources[f"run:{key}"] = body
    return body


@route("run", "GET", r"serving.knative.dev/v1/namespaces/([^/]+)/revisions")
def _run_revisions(fake, call, m):
    selector = call.query.get("labelSelector", "")
    wanted = re.sub(r"\s", "", selector).partition("=")[2]
    items = [copy.deepcopy(v) for k, v in sorted(fake.resources.items())
             if k.startswith(f"run:namespaces/{m.group(1)}/revisions/")
             and (not wanted or v["metadata"]["labels"].get("serving.knative.dev/service") == wanted)]
    return {"apiVersion": "serving.knative.dev/v1", "kind": "RevisionList", "items": items, "metadata": {}}


# -- Cloud Storage (JSON API): the media bucket and its IAM policy ---------------------------------
@route("storage", "GET", r"b/([^/]+)")
def _bucket_get(fake, call, m):
    return fake._get("storage", f"b/{m.group(1)}")


@route("storage", "POST", r"b")
def _bucket_create(fake, call, m):
    body = copy.deepcopy(_body(call))
    body.update({"kind": "storage#bucket", "id": body["name"], "projectNumber": fake.project_number,
                 "timeCreated": _now(), "location": body.get("location", "US").upper(), "storageClass": "STANDARD",
                 "metageneration": "1", "etag": "CAE="})
    return fake._put("storage", f"b/{body['name']}", body)


@route("storage", "PATCH", r"b/([^/]+)")
def _bucket_patch(fake, call, m):
    bucket = fake._get("storage", f"b/{m.group(1)}")
    body = _body(call)
    if "labels" in body:
        bucket["labels"] = {k: v for k, v in {**bucket.get("labels", {}), **(body["labels"] or {})}.items()
                            if v is not None}
    bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
    return bucket


@route("storage", "GET", r"b/([^/]+)/iam")
def _bucket_policy(fake, call, m):
    fake._get("storage", f"b/{m.group(1)}")
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{m.group(1)}",
            **copy.deepcopy(_policy(fake, "storage", f"b/{m.group(1)}"))}


@route("storage", "PUT", r"b/([^/]+)/iam")
def _bucket_set_policy(fake, call, m):
    fake._get("storage", f"b/{m.group(1)}")
    policy = {k: v for k, v in copy.deepcopy(_body(call)).items() if k in ("bindings", "version", "etag")}
    policy["etag"] = _etag(fake)
    fake.resources[f"storage:b/{m.group(1)}#iam"] = policy
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{m.group(1)}", **policy}


# -- API Gateway: the API, its immutable configs (one per OpenAPI document) and the gateway -------
AG = r"(projects/[^/]+/locations/[^/]+)"


def _ag_create(collection: str, id_param: str, fill):
    @route("apigateway", "POST", AG + rf"((?:/apis/[^/]+)?)/{collection}")
    def _create(fake, call, m):
        name = f"{m.group(1)}{m.group(2)}/{collection}/{call.query[id_param]}"
        obj = fill(fake, name, copy.deepcopy(_body(call)))
        fake._put("apigateway", name, obj)
        return fake._operation("apigateway", m.group(1), obj, metadata={"target": name, "verb": "create"})


def _api(fake, name, body):
    return {**body, "name": name, "state": "ACTIVE", "createTime": _now(),
            "managedService": f"{name.rsplit('/', 1)[-1]}-{fake.project_number}.apigateway.{fake.project}.cloud.goog"}


def _config(fake, name, body):
    api = name.rsplit("/configs/", 1)[0]
    fake._get("apigateway", api)
    return {**body, "name": name, "state": "ACTIVE", "createTime": _now(), "serviceConfigId": f"cfg-{fake._next()}"}


def _gateway(fake, name, body):
    fake._get("apigateway", body["apiConfig"])
    gid = name.rsplit("/", 1)[-1]
    return {**body, "name": name, "state": "ACTIVE", "createTime": _now(),
            "defaultHostname": f"{gid}-{fake._next():04x}abcd.uc.gateway.dev"}


_ag_create("apis", "apiId", _api)
_ag_create("configs", "apiConfigId", _config)
_ag_create("gateways", "gatewayId", _gateway)


@route("apigateway", "GET", AG + r"((?:/apis/[^/]+)?)/(apis|configs|gateways)")
def _ag_list(fake, call, m):
    return {m.group(3) if m.group(3) != "configs" else "apiConfigs":
            fake._list("apigateway", m.group(1) + m.group(2), m.group(3))}


@route("apigateway", "GET", r"(projects/[^/]+/locations/[^/]+/(?:apis/[^/]+(?:/configs/[^/]+)?|gateways/[^/]+|"
                            r"operations/[^/]+))")
def _ag_get(fake, call, m):
    return fake._get("apigateway", m.group(1))


@route("apigateway", "PATCH", r"((projects/[^/]+/locations/[^/]+)/gateways/[^/]+)")
def _gateway_patch(fake, call, m):
    body = _body(call)
    if body.get("apiConfig"):
        fake._get("apigateway", body["apiConfig"])
    gateway = fake._patch("apigateway", m.group(1), body, call.query.get("updateMask"))
    return fake._operation("apigateway", m.group(2), copy.deepcopy(gateway),
                           metadata={"target": m.group(1), "verb": "update"})


@route("secretmanager", "PATCH", r"projects/([^/]+)/secrets/([^/:]+)")
def _secret_patch(fake, call, m):
    return fake._patch("secretmanager", _secret_name(fake, *m.groups()), _body(call), call.query.get("updateMask"))
