"""The OpenAPI document is the manifest's and the handlers' models', and the committed copy is current."""
import dataclasses
import json
import sys

import pytest
from contract import asyncapi, documents, openapi
from utalk import manifest
from utalk.models.common import Output

COMMITTED = json.loads(openapi.DOC.read_text())
GENERATED = openapi.build()
ROUTES = openapi.routes()


def _operation(doc: dict, fn: manifest.Function) -> dict | None:
    return doc["paths"].get(fn.path, {}).get(fn.method.lower())


def _component(doc: dict, ref: dict) -> dict:
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("fn", [f for f in manifest.FUNCTIONS if f.path], ids=lambda f: f.name)
def test_every_route_of_the_manifest_is_an_operation_of_the_committed_document(fn):
    op = _operation(COMMITTED, fn)
    assert op is not None, f"{fn.method} {fn.path} is missing from docs/openapi.json: run {documents.COMMAND}"
    assert op["operationId"] == fn.name


def test_the_document_has_no_operation_the_manifest_lacks():
    ops = {op["operationId"] for item in COMMITTED["paths"].values() for op in item.values()}
    assert ops == {f.name for f in manifest.FUNCTIONS if f.path}


@pytest.mark.parametrize("fn,entry", ROUTES, ids=lambda x: getattr(x, "name", ""))
def test_each_handler_declares_what_it_answers(fn, entry):
    """A route that does not say what it answers cannot be checked by clients or by schemathesis."""
    assert entry.contract.responses, f"{fn.name}: declare response= on its http.endpoint(...)"


def differences(fn, entry, committed: dict, generated: dict) -> list[str]:
    """How a route's declared models differ from the committed document."""
    c, op, found = entry.contract, _operation(committed, fn), []
    if c.body is not None:
        ref = op["requestBody"]["content"]["application/json"]["schema"]
        if _component(committed, ref) != _component(generated, ref):
            found.append(f"{fn.name}: {c.body.__name__} differs from docs/openapi.json")
    for status, declared in c.responses.items():
        model = openapi.model(declared)
        if str(status) not in op["responses"]:
            found.append(f"{fn.name}: {status} is not in docs/openapi.json")
        elif model is not None:
            ref = op["responses"][str(status)]["content"]["application/json"]["schema"]
            fields = set(model.model_json_schema(mode="serialization")["properties"])
            if set(_component(committed, ref)["properties"]) != fields:
                found.append(f"{fn.name}: {model.__name__}'s fields differ from docs/openapi.json")
    found += [f"{fn.name}: error status {s} is not declared" for s in openapi.error_statuses(fn, c)
              if str(s) not in op["responses"]]
    return found


@pytest.mark.parametrize("fn,entry", ROUTES, ids=lambda x: getattr(x, "name", ""))
def test_each_handler_model_is_the_one_in_the_committed_document(fn, entry):
    assert differences(fn, entry, COMMITTED, GENERATED) == [], f"run {documents.COMMAND}"


def test_the_committed_documents_are_current():
    assert documents.problems() == []


class User(Output):
    """A handler that now answers a different User than the committed document says."""
    id: str
    nickname: str


def test_a_changed_model_is_caught(monkeypatch):
    """The checks are not vacuous: a route whose response model changed is caught by both."""
    fn, entry = next((f, e) for f, e in ROUTES if f.name == "users_get")
    monkeypatch.setattr(entry, "contract", dataclasses.replace(entry.contract, responses={200: User}))
    assert differences(fn, entry, COMMITTED, openapi.build()) == ["users_get: User's fields differ from docs/openapi.json"]
    assert any("openapi.json is stale" in p for p in documents.problems())


def test_the_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate

    validate(COMMITTED)


@pytest.mark.parametrize("fn,entry", [(f, e) for f, e in ROUTES if e.contract.body is not None],
                         ids=lambda x: getattr(x, "name", ""))
def test_each_example_of_a_body_is_one_the_route_accepts(fn, entry):
    model = entry.contract.body
    for example in model.model_json_schema().get("examples", []):
        model.model_validate(example)


# -- the realtime contract (docs/asyncapi.json) ----------------------------------------------------
ASYNC = json.loads(asyncapi.DOC.read_text())


def test_every_published_event_is_in_the_asyncapi_document_with_its_payload_model():
    for event, model in asyncapi.server_events().items():
        schema = asyncapi.server_schema(ASYNC, event)
        component = _component(ASYNC, schema)
        assert set(component["properties"]) == set(model.model_json_schema(mode="serialization")["properties"]), event


def test_the_client_events_are_the_ones_the_relay_registers():
    import socketio
    import types

    sys.path.insert(0, str(asyncapi.ROOT / "realtime-relay"))
    from relay.handlers import Relay

    sio = socketio.AsyncServer()
    Relay(sio, None, None, types.SimpleNamespace(visibility_ttl_seconds=30, events_per_minute=50))
    assert set(sio.handlers["/"]) - {"*", "connect", "disconnect"} == set(asyncapi.CLIENT_EVENTS)


def test_the_asyncapi_document_is_asyncapi_3():
    assert ASYNC["asyncapi"].startswith("3.")
    for op in ASYNC["operations"].values():
        assert op["action"] in ("send", "receive")
        for ref in op["messages"] + op.get("reply", {}).get("messages", []):
            assert ref["$ref"].rsplit("/", 1)[1] in ASYNC["channels"]["socket"]["messages"]


def _by_id(doc: dict) -> dict[str, tuple[str, dict]]:
    return {op["operationId"]: (path, op) for path, item in doc["paths"].items() for op in item.values()}


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = _component(doc, schema)
    return schema


def test_every_link_names_a_real_operation_its_path_params_and_fields_the_response_has():
    """A link schemathesis follows must fill the target's path params from what the producer answers."""
    ops, linked = _by_id(COMMITTED), 0
    for producer, (_, op) in ops.items():
        for status, response in op["responses"].items():
            for name, link in response.get("links", {}).items():
                linked += 1
                target_path, _ = ops[link["operationId"]]
                assert set(link["parameters"]) == set(manifest.route_params(target_path)), (producer, name)
                for expression in link["parameters"].values():
                    if expression.startswith("$request.path."):
                        assert expression.removeprefix("$request.path.") in manifest.route_params(ops[producer][0])
                        continue
                    schema = _resolve(COMMITTED, response["content"]["application/json"]["schema"])
                    for part in expression.removeprefix("$response.body#/").split("/"):
                        assert part in schema.get("properties", {}), (producer, name, expression)
                        schema = _resolve(COMMITTED, schema["properties"][part])
    assert linked >= len(openapi.LINKS)
    assert {"GetUser", "UpdateUser", "DeactivateUser"} <= set(ops["users_create"][1]["responses"]["201"]["links"])


def test_the_visitor_token_is_its_own_scheme_on_the_visitor_routes_only():
    schemes = COMMITTED["components"]["securitySchemes"]
    assert schemes["visitorAuth"]["scheme"] == "bearer" and "visitorAuth" != "bearerAuth"
    by_scheme: dict[str, set[str]] = {}
    for name, (path, op) in _by_id(COMMITTED).items():
        for requirement in op.get("security", []):
            for scheme in requirement:
                by_scheme.setdefault(scheme, set()).add(name)
    assert by_scheme["visitorAuth"] == {"webchat_send", "webchat_history", "webchat_typing", "webchat_read",
                                       "webchat_media_upload", "webchat_media_get"}
    assert not by_scheme["visitorAuth"] & by_scheme["bearerAuth"]
    assert not any("/webchat/" in _by_id(COMMITTED)[n][0] for n in by_scheme["bearerAuth"])
    # Opening a session takes no token at all (it hands one out).
    assert _by_id(COMMITTED)["webchat_session"][1]["security"] == []
