"""Numbers are proven, not claimed: a live WhatsApp number routes to a workspace only after that
workspace's own Twilio account shows it as its WhatsApp sender (Senders API, through the official
client, against the fake Twilio). Admins deactivate and delete channels (the route goes with them,
conversations stay); a platform operator transfers a route with the ops CLI.
"""
from __future__ import annotations

import json
import uuid

from messaging_support import (INBOUND, Instance, conv_id, db, inbound_form, messages, new_number, ops,
                               post_signed, workspace)

from fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN

CUSTOMER = "+5215512345678"


def route(number: str):
    return db().collection("channelRoutes").document(f"whatsapp:{number}").get()


def channel_docs(ws_id: str, collection: str = "channels") -> list[dict]:
    return [d.to_dict() for d in db().collection("workspaces").document(ws_id).collection(collection).stream()]


def claim(ws, number: str, account: str = ACCOUNT_SID, token: str = AUTH_TOKEN):
    return ws.api.post("/api/v1/channels", json={"name": "Live", "phoneNumber": number, "provider": "twilio",
                                                  "accountSid": account, "credentials": {"authToken": token}})


def test_a_proven_number_routes_to_the_workspace(api, twilio):
    ws = workspace(api, bot=False)
    number = new_number()
    twilio.add_sender(number)
    r = claim(ws, number)
    assert r.status_code == 201, r.text
    assert twilio.sender_lists == 1  # the proof was asked of Twilio, with the submitted credentials
    assert route(number).to_dict()["workspaceId"] == ws.id
    assert post_signed(api, INBOUND, inbound_form(number, CUSTOMER)).status_code == 200
    assert len(messages(ws.id, conv_id(CUSTOMER, number))) == 1


def test_unproven_numbers_are_refused_and_nothing_is_stored(api, twilio):
    ws = workspace(api, bot=False)
    before = channel_docs(ws.id)
    number = new_number()
    r = claim(ws, number)                                   # on no account at all
    assert r.status_code == 422 and r.json()["error"]["code"] == "number_not_owned", r.text
    other_account, other_token = twilio.add_account()
    twilio.add_sender(number, account_sid=other_account)    # someone else's sender
    r = claim(ws, number)
    assert r.status_code == 422 and r.json()["error"]["code"] == "number_not_owned"
    pending = new_number()
    twilio.add_sender(pending, status="PENDING_VERIFICATION")  # registered, never verified
    r = claim(ws, pending)
    assert r.status_code == 422 and r.json()["error"]["code"] == "number_not_owned"
    r = claim(ws, number, account=other_account, token="wrong-" + uuid.uuid4().hex)  # wrong token: Twilio 401
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_credentials", r.text
    r = ws.api.post("/api/v1/channels", json={"name": "x", "phoneNumber": number, "provider": "twilio",
                                              "accountSid": other_account})
    assert r.status_code == 422                             # no token at all
    for n in (number, pending):
        assert not route(n).exists
    assert channel_docs(ws.id) == before and len(channel_docs(ws.id, "channelSecrets")) == len(before)
    assert post_signed(api, INBOUND, inbound_form(number, CUSTOMER), token=other_token).status_code == 404


def test_a_second_workspace_cannot_claim_a_proven_number(api, twilio):
    first, second = workspace(api, bot=False), workspace(api, bot=False)
    number = new_number()
    twilio.add_sender(number)
    assert claim(first, number).status_code == 201
    account, token = twilio.add_account()
    twilio.add_sender(number, account_sid=account)   # even if its own account lists the number too
    r = claim(second, number, account, token)
    assert r.status_code == 409 and r.json()["error"]["code"] == "channel_exists"
    assert route(number).to_dict()["workspaceId"] == first.id
    assert [c["address"] for c in channel_docs(second.id)] == [second.number]
    assert len(channel_docs(second.id, "channelSecrets")) == 1


def test_deactivated_channel_stops_routing_and_can_come_back(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    elsewhere = Instance(api)  # an instance that had the route cached before the change
    assert elsewhere.post_signed(INBOUND, inbound_form(ws.number, CUSTOMER, "hola")).status_code == 200
    cid = conv_id(CUSTOMER, ws.number)
    r = ws.api.patch(f"/api/v1/channels/{ws.channel['id']}", json={"status": "disabled"})
    assert r.status_code == 200 and r.json()["status"] == "disabled", r.text
    assert not route(ws.number).exists
    r = post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "después"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_channel"
    # The instance that had it cached still routes it until its entry expires (the TTL), then not.
    elsewhere.forget()
    assert elsewhere.post_signed(INBOUND, inbound_form(ws.number, CUSTOMER, "x")).status_code == 404
    assert [m["text"] for m in messages(ws.id, cid)] == ["hola"]
    assert ws.api.get(f"/api/v1/conversations/{cid}").status_code == 200
    assert [m["text"] for m in ws.api.get(f"/api/v1/conversations/{cid}/messages").json()["items"]] == ["hola"]
    # Back on: ownership is proven again with the stored credentials, the route returns.
    r = ws.api.patch(f"/api/v1/channels/{ws.channel['id']}", json={"status": "active"})
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    assert post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "de vuelta")).status_code == 200


def test_deleted_channel_takes_its_route_and_secrets_conversations_stay(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    assert Instance(api).post_signed(INBOUND, inbound_form(ws.number, CUSTOMER, "hola")).status_code == 200
    cid = conv_id(CUSTOMER, ws.number)
    r = ws.api.delete(f"/api/v1/channels/{ws.channel['id']}")
    assert r.status_code == 204, r.text
    assert ws.api.get(f"/api/v1/channels/{ws.channel['id']}").status_code == 404
    assert ws.api.delete(f"/api/v1/channels/{ws.channel['id']}").status_code == 404
    assert not route(ws.number).exists and channel_docs(ws.id, "channelSecrets") == []
    r = post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "después"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_channel"
    assert [m["text"] for m in messages(ws.id, cid)] == ["hola"]
    assert ws.api.get(f"/api/v1/conversations/{cid}").json()["id"] == cid
    # The number is free again: another workspace that proves it can claim it.
    other = workspace(api, bot=False)
    assert claim(other, ws.number).status_code == 201


def test_channels_of_another_workspace_are_not_found(api, twilio):
    ws, other = workspace(api, twilio=twilio, bot=False), workspace(api, bot=False)
    path = f"/api/v1/channels/{ws.channel['id']}"
    assert other.api.get(path).status_code == 404
    assert other.api.patch(path, json={"status": "disabled"}).status_code == 404
    assert other.api.put(path + "/credentials", json={"authToken": AUTH_TOKEN}).status_code == 404
    assert other.api.delete(path).status_code == 404
    assert route(ws.number).to_dict()["workspaceId"] == ws.id


def test_operator_transfers_a_route_with_the_ops_cli(api, twilio):
    source, target = workspace(api, twilio=twilio, bot=False), workspace(api, bot=False)
    assert Instance(api).post_signed(INBOUND, inbound_form(source.number, CUSTOMER, "antes")).status_code == 200
    done = ops("transfer-route", f"whatsapp:{source.number}", "--to-workspace", target.id,
                "--reason", "ticket 4711: number sold to target")
    assert done.returncode == 0, done.stderr + done.stdout
    logged = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("action") == "transfer-route" and e.get("reason", "").startswith("ticket 4711") for e in logged)
    assert route(source.number).to_dict()["workspaceId"] == target.id
    r = post_signed(api, INBOUND, inbound_form(source.number, CUSTOMER, "después"))
    assert r.status_code == 200, r.text
    cid = conv_id(CUSTOMER, source.number)
    assert [m["text"] for m in messages(target.id, cid)] == ["después"]
    assert [m["text"] for m in messages(source.id, cid)] == ["antes"]   # the source keeps its history
    moved = [c for c in target.api.get("/api/v1/channels").json()["items"] if c["address"] == source.number]
    assert len(moved) == 1 and moved[0]["status"] == "active" and moved[0]["credentials"]["authToken"]["set"]
    left = source.api.get(f"/api/v1/channels/{source.channel['id']}").json()
    assert left["status"] == "disabled" and left["disabledReason"] == "transferred"
    assert not left["credentials"]["authToken"]["set"]
    # Unknown route, unknown workspace, no reason: refused, nothing changes.
    assert ops("transfer-route", "whatsapp:+19990000000", "--to-workspace", source.id, "--reason", "x").returncode != 0
    assert ops("transfer-route", f"whatsapp:{source.number}", "--to-workspace", "ws_nope", "--reason", "x").returncode != 0
    assert ops("transfer-route", f"whatsapp:{source.number}", "--to-workspace", source.id).returncode != 0
    assert route(source.number).to_dict()["workspaceId"] == target.id


def test_agents_cannot_manage_channels(api, twilio):
    from messaging_support import agent
    ws = workspace(api, twilio=twilio, bot=False)
    agent_api, _ = agent(ws, api)
    path = f"/api/v1/channels/{ws.channel['id']}"
    assert agent_api.get(path).status_code == 403
    assert agent_api.patch(path, json={"status": "disabled"}).status_code == 403
    assert agent_api.put(path + "/credentials", json={"authToken": AUTH_TOKEN}).status_code == 403
    assert agent_api.delete(path).status_code == 403
    assert route(ws.number).exists
