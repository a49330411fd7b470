"""The demo seed: idempotent, and the local stack it prepares answers a simulated customer."""
from devstack import seed, simulate
from messaging_support import conv_id, messages, wait_for


def test_seed_is_idempotent_and_the_demo_works_end_to_end(api):
    first = seed.seed()
    again = seed.seed()
    assert again == first
    from utalk.services.channels import list_channels
    assert sorted((c.type, c.address) for c in list_channels(seed.WORKSPACE)) == [
        ("facebook", seed.DEMO_PAGE_ID), ("web", first["webChat"]["channelKey"]), ("whatsapp", seed.DEMO_NUMBER)]
    # The demo shop page embeds the demo web chat, served with the widget's files by the gateway.
    page = api.get(f"/demo/shop.html?channel={first['webChat']['channelKey']}")
    assert page.status_code == 200 and f'data-channel="{first["webChat"]["channelKey"]}"' in page.text
    assert api.get("/webchat/widget.js").status_code == 200
    assert api.get("/webchat/socket.io.min.js").status_code == 200
    assert api.get("/demo/shop.html?channel=<script>").status_code == 400
    token = api.post("/api/v1/auth/login", json={"email": first["email"], "password": first["password"]}).json()["token"]
    assert token
    r = simulate.send(api.base, "hola", "+5215512340000")
    assert r.status_code == 200, r.text
    conv = conv_id("+5215512340000", seed.DEMO_NUMBER)
    # The offline bot answers through the sandbox channel, which reports the reply delivered.
    reply = wait_for(lambda: [m for m in messages(seed.WORKSPACE, conv) if m["senderType"] == "bot"
                              and m["status"] in ("sent", "delivered", "read")])
    assert reply[0]["direction"] == "outbound"


def test_the_demo_page_answers_a_simulated_messenger_customer(api):
    seed.seed()
    r = simulate.send_messenger(api.base, "hola", "6000000000000042")
    assert r.status_code == 200, r.text
    conv = f"conv_fb:6000000000000042_fb:{seed.DEMO_PAGE_ID}"
    # The offline bot answers through the sandbox Page, whose signed webhooks report it read.
    reply = wait_for(lambda: [m for m in messages(seed.WORKSPACE, conv) if m["senderType"] == "bot"
                              and m["status"] == "read"])
    assert reply[0]["direction"] == "outbound" and len(messages(seed.WORKSPACE, conv)) == 2
