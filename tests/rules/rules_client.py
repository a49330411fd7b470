"""A Firestore client as a browser is one: unsigned test ID tokens, REST reads/writes, Listen streams.

The Firestore emulator accepts unsigned ID tokens (`alg: none`, empty signature) and evaluates
`firestore.rules` against their claims, exactly as production does against a verified ID token.
The token shape follows firebase-js-sdk's `createMockUserToken` (what `@firebase/rules-unit-testing`
sends as `mockUserToken`). Reads and writes go through the emulator's REST API; listeners through
the real gRPC `Listen` stream, the RPC behind the SDKs' onSnapshot.
"""
from __future__ import annotations

import base64
import json
import queue
import threading
import time
from dataclasses import dataclass

import grpc
import requests

_STATUS = {status.value[0]: status.name for status in grpc.StatusCode}  # rpc code -> name


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_id_token(project: str, uid: str, *, provider: str = "custom", **claims) -> str:
    """An ID token as Firebase Auth issues after signInWithCustomToken, minus the signature."""
    now = int(time.time())
    payload = {"iss": f"https://securetoken.google.com/{project}", "aud": project, "iat": now,
               "exp": now + 3600, "auth_time": now, "sub": uid, "user_id": uid,
               "firebase": {"sign_in_provider": provider, "identities": {}}, **claims}
    return f"{_b64({'alg': 'none', 'type': 'JWT'})}.{_b64(payload)}."


@dataclass
class Browser:
    """One client identity against the emulator (token None = not signed in)."""
    host: str
    project: str
    token: str | None = None

    @property
    def root(self) -> str:
        return f"projects/{self.project}/databases/(default)/documents"

    def _url(self, path: str = "") -> str:
        return f"http://{self.host}/v1/{self.root}" + (f"/{path}" if path else "")

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    # -- reads ------------------------------------------------------------------------------
    def get(self, path: str) -> requests.Response:
        return requests.get(self._url(path), headers=self._headers(), timeout=10)

    def run_query(self, parent: str, structured_query: dict) -> requests.Response:
        """POST {parent}:runQuery; parent "" is the database root (collection-group queries)."""
        url = (self._url(parent) if parent else f"http://{self.host}/v1/{self.root}") + ":runQuery"
        return requests.post(url, json={"structuredQuery": structured_query}, headers=self._headers(),
                             timeout=10)

    # -- writes (all must be refused) ----------------------------------------------------------
    def create(self, collection: str, doc_id: str, fields: dict) -> requests.Response:
        return requests.post(self._url(collection), params={"documentId": doc_id},
                             json={"fields": fields}, headers=self._headers(), timeout=10)

    def update(self, path: str, fields: dict) -> requests.Response:
        return requests.patch(self._url(path), json={"fields": fields}, headers=self._headers(), timeout=10)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self._url(path), headers=self._headers(), timeout=10)

    def commit(self, path: str, fields: dict) -> requests.Response:
        """A batched write (what the SDKs' writeBatch/transactions send)."""
        body = {"writes": [{"update": {"name": f"{self.root}/{path}", "fields": fields}}]}
        return requests.post(f"http://{self.host}/v1/projects/{self.project}/databases/(default)"
                             "/documents:commit", json=body, headers=self._headers(), timeout=10)

    # -- listeners ----------------------------------------------------------------------------
    def listen(self, parent: str, structured_query: dict, timeout: float = 10.0) -> "ListenResult":
        return listen(self.host, self.project, self.token, parent, structured_query, timeout)


def query(collection: str, *, all_descendants: bool = False, where: dict | None = None) -> dict:
    """A REST structuredQuery; `where` maps field -> value for string equality filters."""
    q: dict = {"from": [{"collectionId": collection, "allDescendants": all_descendants}]}
    filters = [{"fieldFilter": {"field": {"fieldPath": k}, "op": "EQUAL", "value": {"stringValue": v}}}
               for k, v in (where or {}).items()]
    if len(filters) == 1:
        q["where"] = filters[0]
    elif filters:
        q["where"] = {"compositeFilter": {"op": "AND", "filters": filters}}
    return q


def query_docs(resp: requests.Response) -> list[str]:
    """Document names (relative to documents/) a successful runQuery returned."""
    names = []
    for item in resp.json():
        doc = item.get("document")
        if doc:
            names.append(doc["name"].split("/documents/", 1)[1])
    return sorted(names)


@dataclass
class ListenResult:
    allowed: bool
    documents: list[str]
    error: str | None  # "<gRPC status name>: <message>" when refused

    @property
    def denied(self) -> bool:
        """Refused by the rules (not a timeout or a broken stream)."""
        return not self.allowed and (self.error or "").startswith("PERMISSION_DENIED")


def listen(host: str, project: str, token: str | None, parent: str, structured_query: dict,
           timeout: float) -> ListenResult:
    """Open a Listen stream for one query target; wait until it is current (allowed) or refused."""
    from google.cloud.firestore_v1.services.firestore import FirestoreClient
    from google.cloud.firestore_v1.services.firestore.transports import FirestoreGrpcTransport
    from google.cloud.firestore_v1.types import ListenRequest, StructuredQuery, Target, TargetChange

    database = f"projects/{project}/databases/(default)"
    parent_name = f"{database}/documents" + (f"/{parent}" if parent else "")
    sq = StructuredQuery.from_json(json.dumps(structured_query))
    request = ListenRequest(database=database, add_target=Target(
        target_id=1, query=Target.QueryTarget(parent=parent_name, structured_query=sq)))
    done = threading.Event()

    def requests_iter():
        yield request
        done.wait(timeout)  # keep the client half open, as an SDK listener does

    channel = grpc.insecure_channel(host)
    client = FirestoreClient(transport=FirestoreGrpcTransport(channel=channel))
    # The emulator picks the project of a Listen stream from this header (as the SDKs send it);
    # without it the target silently runs against another, empty project.
    metadata = [("google-cloud-resource-prefix", database)]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    results: queue.Queue = queue.Queue()

    def consume():
        docs: set[str] = set()
        try:
            for resp in client.listen(requests=requests_iter(), metadata=metadata, timeout=timeout):
                if "document_change" in resp:
                    docs.add(resp.document_change.document.name.split("/documents/", 1)[1])
                if "target_change" in resp:
                    change = resp.target_change
                    if change.target_change_type == TargetChange.TargetChangeType.REMOVE:
                        code = _STATUS.get(change.cause.code, str(change.cause.code))
                        results.put(ListenResult(False, [], f"{code}: {change.cause.message.strip()}"))
                        return
                    if change.target_change_type == TargetChange.TargetChangeType.CURRENT:
                        results.put(ListenResult(True, sorted(docs), None))
                        return
        except grpc.RpcError as exc:
            results.put(ListenResult(False, [], f"{exc.code().name}: {exc.details()}"))
            return
        results.put(ListenResult(False, [], "stream ended"))

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    try:
        return results.get(timeout=timeout + 2)
    finally:
        done.set()
        channel.close()


class LiveListener:
    """A Listen stream kept open (what an onSnapshot listener is), recording what it is sent:
    documents added or changed, and whether the target was refused."""

    def __init__(self, host: str, project: str, token: str, parent: str, structured_query: dict,
                 timeout: float = 120.0):
        from google.cloud.firestore_v1.services.firestore import FirestoreClient
        from google.cloud.firestore_v1.services.firestore.transports import FirestoreGrpcTransport
        from google.cloud.firestore_v1.types import ListenRequest, StructuredQuery, Target

        database = f"projects/{project}/databases/(default)"
        sq = StructuredQuery.from_json(json.dumps(structured_query))
        self._request = ListenRequest(database=database, add_target=Target(
            target_id=1, query=Target.QueryTarget(parent=f"{database}/documents/{parent}", structured_query=sq)))
        self._done = threading.Event()
        self._channel = grpc.insecure_channel(host)
        self._client = FirestoreClient(transport=FirestoreGrpcTransport(channel=self._channel))
        self._metadata = [("google-cloud-resource-prefix", database), ("authorization", f"Bearer {token}")]
        self.documents: list[str] = []   # every document sent, in order (repeats included)
        self.current = threading.Event()
        self.refused: str | None = None  # "<status>: <message>" once the target is removed
        self.ended = threading.Event()
        self._timeout = timeout
        threading.Thread(target=self._consume, daemon=True).start()

    def _requests(self):
        yield self._request
        self._done.wait(self._timeout)

    def _consume(self):
        from google.cloud.firestore_v1.types import TargetChange
        try:
            for resp in self._client.listen(requests=self._requests(), metadata=self._metadata,
                                            timeout=self._timeout):
                if "document_change" in resp:
                    self.documents.append(resp.document_change.document.name.split("/documents/", 1)[1])
                if "target_change" in resp:
                    change = resp.target_change
                    if change.target_change_type == TargetChange.TargetChangeType.REMOVE:
                        code = _STATUS.get(change.cause.code, str(change.cause.code))
                        self.refused = f"{code}: {change.cause.message.strip()}"
                        return
                    if change.target_change_type == TargetChange.TargetChangeType.CURRENT:
                        self.current.set()
        except Exception as exc:  # grpc.RpcError, or api_core's wrapper of it
            if not self._done.is_set():  # not our own close()
                self.refused = f"{getattr(exc, 'code', lambda: type(exc).__name__)()}: {exc}"
        finally:
            self.ended.set()

    def close(self):
        self._done.set()
        self._channel.close()
