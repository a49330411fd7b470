"""Facebook Page channels: proven, not claimed. The page token must answer for the Page and for
the channel's app on the Graph API (with the app secret's appsecret_proof) before anything is
stored; credentials are sealed, write-only and rotatable, like Twilio's."""
from __future__ import annotations

import uuid

from fakes.graph_server import APP_ID, APP_SECRET
from messaging_support import db
from messenger_support import page_channel

VERIFY = "a-verify-token-of-ours-000001"


def claim(page, api_, page_id: str, token: str, secret: str = APP_SECRET, app_id: str = APP_ID, **extra):
    return api_.post("/api/v1/channels", json={
        "type": "facebook", "name": "Tienda", "pageId": page_id, "provider": "messenger", "appId": app_id,
        "credentials": {"pageToken": token, "appSecret": secret, "verifyToken": VERIFY, **extra}})


def test_a_proven_page_is_connected_and_its_secrets_never_shown(api, graph):
    page = page_channel(api, graph)
    ch = page.channel
    assert ch["type"] == "facebook" and ch["address"] == ch["pageId"] == page.page_id and ch["appId"] == APP_ID
    assert set(ch["credentials"]) == {"pageToken", "appSecret", "verifyToken"}
    assert all(state["set"] for state in ch["credentials"].values())
    token = graph.pages[page.page_id].token
    listed = page.api.get("/api/v1/channels").text + page.api.get(f"/api/v1/channels/{ch['id']}").text
    assert token not in listed and APP_SECRET not in listed and page.verify_token not in listed
    sealed = db().collection("workspaces").document(page.ws).collection("channelSecrets").document(ch["id"]).get()
    assert token not in str(sealed.to_dict()) and APP_SECRET not in str(sealed.to_dict())
    route = db().collection("channelRoutes").document(f"facebook:{page.page_id}").get().to_dict()
    assert route["workspaceId"] == page.ws and route["appId"] == APP_ID and route["verifyKey"].startswith("facebook-verify:")
    assert page.verify_token not in str(route)
    assert graph.count("GET", "/me") == 1 and graph.count("GET", "/app") == 1


def test_unproven_pages_are_refused_and_nothing_is_stored(api, graph):
    page = page_channel(api, graph)
    other = graph.add_page()
    stranger = graph.add_page(app_id="300000000000003")
    cases = [(claim(page, page.api, other.id, "EAAG-not-a-token-" + uuid.uuid4().hex), "invalid_credentials"),
             (claim(page, page.api, other.id, page_token := graph.pages[page.page_id].token), "page_not_owned"),
             (claim(page, page.api, stranger.id, stranger.token), "app_mismatch"),
             (claim(page, page.api, other.id, other.token, secret="the-wrong-app-secret-000"), "invalid_credentials")]
    for r, code in cases:
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    assert page_token not in "".join(r.text for r, _ in cases)
    graph.down = True
    r = claim(page, page.api, other.id, other.token)
    assert r.status_code == 503 and r.json()["error"]["code"] == "provider_unavailable"
    graph.down = False
    assert [c["id"] for c in page.api.get("/api/v1/channels").json()["items"]] == [page.channel["id"]]
    assert not db().collection("channelRoutes").document(f"facebook:{other.id}").get().exists
    assert claim(page, page.api, other.id, other.token).status_code == 201


def test_a_page_belongs_to_one_workspace(api, graph):
    page = page_channel(api, graph)
    rival = page_channel(api, graph)
    r = claim(rival, rival.api, page.page_id, graph.pages[page.page_id].token)
    assert r.status_code == 409 and r.json()["error"]["code"] == "channel_exists"


def test_invalid_facebook_channel_input_is_422(api):
    page = page_channel(api)
    creds = {"pageToken": "p" * 40, "appSecret": "s" * 32, "verifyToken": "v" * 20}
    for body in ({"type": "facebook", "name": "x"},                                               # no pageId
                 {"type": "facebook", "name": "x", "pageId": "abc"},
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "phoneNumber": "+14155550100"},
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "provider": "twilio"},
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "provider": "messenger",
                  "credentials": creds},                                                          # no appId
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "provider": "messenger",
                  "appId": APP_ID, "credentials": {"pageToken": "p" * 40}},                       # incomplete
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "provider": "messenger",
                  "appId": APP_ID, "credentials": {**creds, "authToken": "t" * 20}},              # Twilio's field
                 {"type": "facebook", "name": "x", "pageId": "123456789012345", "provider": "messenger",
                  "appId": APP_ID, "credentials": {**creds, "verifyToken": "short"}}):
        r = page.api.post("/api/v1/channels", json=body)
        assert r.status_code == 422, (body, r.text)
    r = page.api.put(f"/api/v1/channels/{page.channel['id']}/credentials", json={"authToken": "t" * 20})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unexpected_credentials"


def test_rotating_the_page_token_proves_the_page_again(api, graph):
    page = page_channel(api, graph)
    fb = graph.pages[page.page_id]
    old, fb.token = fb.token, "EAAG" + uuid.uuid4().hex * 3          # Meta issued a new page token
    ch = page.channel["id"]
    r = page.api.put(f"/api/v1/channels/{ch}/credentials", json={"pageToken": old})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_credentials"
    r = page.api.put(f"/api/v1/channels/{ch}/credentials", json={"pageToken": fb.token})
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["pageToken"]["rotatedAt"] != page.channel["credentials"]["pageToken"]["rotatedAt"]
    assert r.json()["credentials"]["appSecret"] == page.channel["credentials"]["appSecret"]


def test_an_operator_transfer_moves_the_page_and_its_verify_token(api, graph):
    from messaging_support import messages, ops
    from messenger_support import WEBHOOK, body, conv_id, message, post, psid

    source, target = page_channel(api, graph), page_channel(api, graph)
    done = ops("transfer-route", f"facebook:{source.page_id}", "--to-workspace", target.ws, "--reason", "ticket 9")
    assert done.returncode == 0, done.stderr + done.stdout
    customer = psid()
    assert post(api, body((source.page_id, [message(customer, source.page_id, "hola")])), APP_SECRET).status_code == 200
    assert len(messages(target.ws, conv_id(customer, source.page_id))) == 1
    assert messages(source.ws, conv_id(customer, source.page_id)) == []
    holders = db().collection("channelRoutes").document(
        db().collection("channelRoutes").document(f"facebook:{source.page_id}").get().get("verifyKey")).get()
    moved = [c for c in target.api.get("/api/v1/channels").json()["items"] if c["address"] == source.page_id]
    assert holders.get("channels") == [f"{target.ws}/{moved[0]['id']}"]
    r = api.get(WEBHOOK, params={"hub.mode": "subscribe", "hub.verify_token": source.verify_token, "hub.challenge": "7"})
    assert r.status_code == 200 and r.text == "7"
