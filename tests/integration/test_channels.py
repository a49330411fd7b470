"""Channel registry: admins connect numbers; a number belongs to one workspace; agents cannot."""
from messaging_support import agent, workspace


def test_admin_creates_and_lists_channels(api):
    ws = workspace(api, bot=False)
    assert ws.channel["provider"] == "sandbox" and ws.channel["address"] == ws.number
    assert "authTokenRef" not in ws.channel and "authToken" not in ws.channel
    assert ws.channel["credentials"] == {"authToken": {"set": True, "rotatedAt": ws.channel["createdAt"]}}
    items = ws.api.get("/api/v1/channels").json()["items"]
    assert [c["id"] for c in items] == [ws.channel["id"]]


def test_number_taken_by_another_workspace_is_409(api):
    ws = workspace(api, bot=False)
    other = workspace(api, bot=False)
    r = other.api.post("/api/v1/channels", json={"name": "x", "phoneNumber": ws.number})
    assert r.status_code == 409 and r.json()["error"]["code"] == "channel_exists"
    assert [c["id"] for c in other.api.get("/api/v1/channels").json()["items"]] == [other.channel["id"]]


def test_invalid_channel_input_is_422(api):
    ws = workspace(api, bot=False)
    for body in ({"name": "x", "phoneNumber": "12345"}, {"name": "x", "phoneNumber": "+14155550100",
                                                         "provider": "twilio"},
                 {"name": "x", "phoneNumber": "+14155550100", "authTokenRef": "TWILIO_AUTH_TOKEN"},
                 {"name": "x", "phoneNumber": "+14155550100", "authToken": "secret-secret-secret"},
                 {"name": "x", "phoneNumber": "+14155550100", "credentials": {"authToken": "short"}},
                 {"name": "x", "phoneNumber": "+14155550100", "credentials": {"pageToken": "p" * 40}},
                 {"name": "x", "phoneNumber": "+14155550100", "provider": "twilio", "accountSid": "AC" + "1" * 32}):
        assert ws.api.post("/api/v1/channels", json=body).status_code == 422, body


def test_agents_cannot_manage_channels(api):
    ws = workspace(api, bot=False)
    agent_api, _ = agent(ws, api)
    assert agent_api.get("/api/v1/channels").status_code == 403
    assert agent_api.post("/api/v1/channels", json={"name": "x", "phoneNumber": "+14155550199"}).status_code == 403
