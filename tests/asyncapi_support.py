"""Checking what a Socket.IO client received against docs/asyncapi.json (tests/e2e/conftest.py)."""
from __future__ import annotations

import json

import jsonschema

from contract import asyncapi

ASYNCAPI = json.loads(asyncapi.DOC.read_text())
# socketio's own lifecycle events, not part of the contract (connect_error is: its `data.code`).
LIFECYCLE = {"connect", "disconnect", "__disconnect_final"}


def violations(received: list[tuple[str, tuple]], visitor: bool = False) -> list[str]:
    """What of `received` ((event, args) as a client got them; a web chat visitor's: `visitor`)
    the AsyncAPI document does not allow."""
    found = []
    for event, args in received:
        if event in LIFECYCLE or (event == "connect_error" and not (args and isinstance(args[0], dict))):
            continue   # a transport failure's connect_error is a string, not the relay's refusal
        try:
            schema = asyncapi.server_schema(ASYNCAPI, event, visitor) if event != "connect_error" else \
                {**ASYNCAPI["components"]["messages"]["connect_error"]["payload"], "components": ASYNCAPI["components"]}
        except KeyError:
            found.append(f"{event}: not in docs/asyncapi.json")
            continue
        if len(args) != 1:
            found.append(f"{event}: {len(args)} arguments, the contract says one object")
            continue
        for error in jsonschema.Draft202012Validator(schema).iter_errors(args[0]):
            found.append(f"{event}: {error.message} at {list(error.absolute_path)}")
    return found


def ack_violations(calls: list[tuple[str, object]]) -> list[str]:
    found = []
    for event, ack in calls:
        key = f"{asyncapi.event_key(event)}_ack"
        if key not in ASYNCAPI["components"]["messages"]:
            found.append(f"{event}: no such client event in docs/asyncapi.json")
            continue
        schema = {**ASYNCAPI["components"]["messages"][key]["payload"], "components": ASYNCAPI["components"]}
        found += [f"{event} ack: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(ack)]
    return found
