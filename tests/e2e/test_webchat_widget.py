"""The web chat widget in a real browser (Debian's headless Chromium through Selenium), through
the local stack: the demo shop page on a site of its own (so every call is cross-origin, as on a
customer's site) embeds the widget with one tag; a visitor types, the bot's answer appears; the
visitor asks for a person, the online agent (a real Socket.IO client) is assigned, accepts, types
and replies, and the page shows the agent's name, typing and reply; a reload keeps the thread;
after a relay restart the widget reconnects and gets what was said meanwhile. A screenshot of the
page is kept under the test output directory."""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import socketio
from bot_support import escalations, new_agents, set_settings
from messaging_support import wait_for
from realtime_support import E2E_RELAY, start_e2e_relay
from webchat_support import web_channel

from devstack.webchat_static import demo_page

OUTPUT = Path(os.environ.get("UTALK_TEST_OUTPUT_DIR", Path(__file__).resolve().parents[2] / ".devstack/test-output"))
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


class Shop:
    """The demo shop page served from its own origin (a site that embeds the widget)."""

    def __init__(self, page_for):
        page_for_ = page_for

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = page_for_()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def browser():
    from selenium import webdriver

    assert CHROMIUM and DRIVER, "scripts/setup installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,800",
                "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _texts(driver, sender: str | None = None) -> list[str]:
    from selenium.webdriver.common.by import By

    selector = ".utalk-wc-msg" + (f'[data-sender="{sender}"]' if sender else "")
    return [e.find_element(By.CSS_SELECTOR, ".utalk-wc-text").get_attribute("textContent")
            for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def _seen(driver) -> bool:
    """The visitor's messages are all marked read, "Seen" under the last one."""
    from selenium.webdriver.common.by import By

    mine = driver.find_elements(By.CSS_SELECTOR, '.utalk-wc-msg[data-side="visitor"]')
    seen = driver.find_elements(By.CSS_SELECTOR, ".utalk-wc-seen")
    return bool(mine) and all(m.get_attribute("data-read") == "true" for m in mine) and len(seen) == 1 \
        and seen[0].get_attribute("textContent") == "Seen"


def _until(driver, check, timeout: float = 45):
    """Poll the page; on timeout, fail with what the widget and the browser's console said."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: check())
    except TimeoutException:
        state = driver.execute_script(
            "var r = document.querySelector('.utalk-wc'); return r ? r.outerHTML.slice(0, 3000) : 'no widget';")
        pytest.fail(f"page never got there; widget: {state}; console: {driver.get_log('browser')}")


def _say(driver, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "utalk-wc-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def test_a_visitor_talks_to_the_bot_then_an_agent_in_a_real_browser(api, stack, relay_port, browser):
    from selenium.webdriver.common.by import By

    gateway = f"http://127.0.0.1:{stack.ports.gateway}"
    relay = f"http://127.0.0.1:{relay_port}"
    holder: dict = {}
    shop = Shop(lambda: demo_page(holder["key"], gateway, relay))
    agent_socket = socketio.Client(reconnection=True)
    try:
        chat = web_channel(api, bot=True, origins=(shop.origin,))
        holder["key"] = chat.key
        set_settings(chat.ws, **{"escalation.timeoutHours": 0})
        (agent_api, agent_id), = new_agents(api, chat, 1)
        assigned = threading.Event()
        agent_socket.on("conversation:assigned", lambda payload: assigned.set())
        agent_socket.connect(relay, auth={"token": agent_api.token}, transports=["websocket"], wait_timeout=10)

        browser.get(shop.origin + "/")
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".utalk-wc").get_attribute("data-connected")
               == "true")
        launcher = browser.find_element(By.CSS_SELECTOR, ".utalk-wc-launch")
        assert launcher.get_attribute("aria-expanded") == "false" and launcher.text == "Chat with us"
        launcher.send_keys("\n")                                         # keyboard: Enter on the focused button
        _until(browser, lambda: browser.switch_to.active_element.get_attribute("id") == "utalk-wc-input")
        label = browser.find_element(By.CSS_SELECTOR, 'label[for="utalk-wc-input"]')
        assert label.get_attribute("textContent") == "Your message"
        assert browser.find_element(By.ID, "utalk-wc-title").text == "Tienda Luna"

        _say(browser, "¿a qué hora abren?")
        _until(browser, lambda: any("horario" in t for t in _texts(browser, "bot")))
        assert _texts(browser, "customer") == ["¿a qué hora abren?"]

        _say(browser, "quiero hablar con un agente")
        assert assigned.wait(45), "the agent's socket heard no assignment"
        [esc] = wait_for(lambda: [e for e in escalations(chat.ws) if e["status"] == "assigned"])
        conv = esc["conversationId"]
        assert conv.startswith("conv_web:") and esc["toAgentId"] == agent_id
        assert agent_api.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
        _until(browser, lambda: "Agente" in browser.find_element(By.CSS_SELECTOR, ".utalk-wc-agent").text)
        assert agent_socket.call("conversation:join", {"conversationId": conv}, timeout=10) == {"ok": True}
        assert agent_socket.call("typing:start", {"conversationId": conv}, timeout=10) == {"ok": True}
        _until(browser, lambda: "typing" in browser.find_element(By.CSS_SELECTOR, ".utalk-wc-typing").text)
        r = agent_api.post("/api/v1/messages", json={"conversationId": conv, "messageId": str(uuid.uuid4()),
                                                     "text": "Hola, soy Ana. ¿En qué te ayudo?"})
        assert r.status_code == 201, r.text
        _until(browser, lambda: "Hola, soy Ana. ¿En qué te ayudo?" in _texts(browser, "agent"))
        assert agent_api.post(f"/api/v1/conversations/{conv}/read").status_code == 200
        _until(browser, lambda: _seen(browser))                          # read receipts, live
        thread = _texts(browser)

        browser.refresh()                                                # the session and thread survive a reload
        _until(browser, lambda: _texts(browser) == thread)
        _until(browser, lambda: _seen(browser))                          # and the receipt, from the history
        assert "Agente" in browser.find_element(By.CSS_SELECTOR, ".utalk-wc-agent").get_attribute("textContent")

        stack.stop(E2E_RELAY)                                          # the relay restarts; the widget reconnects
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".utalk-wc").get_attribute("data-connected")
               == "false")
        r = agent_api.post("/api/v1/messages", json={"conversationId": conv, "messageId": str(uuid.uuid4()),
                                                     "text": "¿Sigues ahí?"})
        assert r.status_code == 201, r.text
        start_e2e_relay(stack, relay_port)
        _until(browser, lambda: "¿Sigues ahí?" in _texts(browser, "agent"), timeout=60)
        browser.find_element(By.CSS_SELECTOR, ".utalk-wc-launch").click()   # open again after the reload
        OUTPUT.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(OUTPUT / "webchat-demo-shop.png"))
    finally:
        agent_socket.disconnect()
        shop.close()


def test_a_visitor_attaches_a_file_then_logs_in_and_keeps_the_thread_in_a_real_browser(api, stack, relay_port, browser,
                                                                                       tmp_path):
    """The attach button (keyboard reachable, labelled) uploads and sends a file; when the shop then
    names the logged-in customer (data-identifier + its hash), the widget brings the anonymous
    conversation into the identified one."""
    from messaging_support import messages
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from webchat_support import identifier_hash

    gateway = f"http://127.0.0.1:{stack.ports.gateway}"
    holder: dict = {"identity": ""}

    def page() -> bytes:
        html = demo_page(holder["key"], gateway, f"http://127.0.0.1:{relay_port}")
        return html.replace(b"data-channel=", holder["identity"].encode() + b" data-channel=")

    shop = Shop(page)
    try:
        chat = web_channel(api, identity=True, origins=(shop.origin,))
        holder["key"] = chat.key
        browser.get(shop.origin + "/")
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".utalk-wc").get_attribute("data-connected")
               == "true")
        browser.find_element(By.CSS_SELECTOR, ".utalk-wc-launch").send_keys("\n")
        _until(browser, lambda: browser.switch_to.active_element.get_attribute("id") == "utalk-wc-input")
        browser.switch_to.active_element.send_keys(Keys.TAB)           # the next stop is the labelled attach button
        attach = browser.switch_to.active_element
        assert attach.tag_name == "button" and attach.get_attribute("aria-label") == "Attach a file"

        picture = tmp_path / "ticket.png"
        picture.write_bytes(_real_png())                                # the thumbnail must decode
        browser.find_element(By.ID, "utalk-wc-file").send_keys(str(picture))   # what the picker hands over
        _until(browser, lambda: any("ticket.png" in t for t in _texts(browser, "customer")))
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, '.utalk-wc-msg[data-sender="customer"]')
               .get_attribute("data-status") == "received")
        anonymous = _conversation(browser)
        [stored] = messages(chat.ws, anonymous)
        assert stored["type"] == "image" and stored["mediaId"]
        # Shown as a download link (the signed URL of GET media/{id}) with a thumbnail that loads.
        link = browser.find_element(By.CSS_SELECTOR, '.utalk-wc-msg[data-sender="customer"] a.utalk-wc-file')
        assert link.get_attribute("download") == "ticket.png" and "ticket.png" in link.text
        _until(browser, lambda: browser.execute_script(
            "var i = document.querySelector('.utalk-wc-thumb'); return !!i && i.complete && i.naturalWidth > 0;"))

        holder["identity"] = f'data-identifier="cliente-5" data-identifier-hash="{identifier_hash("cliente-5")}"'
        browser.refresh()                                                # the customer logged in on the shop
        _until(browser, lambda: _conversation(browser) != anonymous)
        identified = _conversation(browser)
        assert identified.startswith("conv_web:u")
        [moved] = wait_for(lambda: messages(chat.ws, identified))
        assert moved["mediaId"] == stored["mediaId"] and messages(chat.ws, anonymous) == []
        browser.find_element(By.CSS_SELECTOR, ".utalk-wc-launch").click()
        _until(browser, lambda: len(_texts(browser, "customer")) == 1)  # the thread came along, once
    finally:
        shop.close()


def _real_png() -> bytes:
    """A decodable 2x2 PNG (media_support.PNG is a header padded out, which no browser renders)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1a\x73\xe8" * 2 for _ in range(2))     # filter 0, two RGB pixels a row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _conversation(driver) -> str:
    """The conversation of the session the widget keeps (its localStorage entry)."""
    import json

    key = driver.execute_script("return Object.keys(localStorage).find(k => k.startsWith('utalk-webchat:'));")
    saved = json.loads(driver.execute_script("return localStorage.getItem(arguments[0]);", key) or "{}")
    return f"conv_web:{saved.get('visitorId')}_web:{key.split(':', 1)[1]}"


@contextmanager
def _one_message_in(api, stack, relay_port, browser):
    """A new web chat on the demo shop, its page open, the visitor's "hola" stored: (chat, shop, widget)."""
    from selenium.webdriver.common.by import By

    gateway = f"http://127.0.0.1:{stack.ports.gateway}"
    holder: dict = {}
    shop = Shop(lambda: demo_page(holder["key"], gateway, f"http://127.0.0.1:{relay_port}"))
    try:
        chat = web_channel(api, origins=(shop.origin,))
        holder["key"] = chat.key
        browser.get(shop.origin + "/")
        widget = browser.find_element(By.CSS_SELECTOR, ".utalk-wc")
        _until(browser, lambda: widget.get_attribute("data-connected") == "true")
        browser.find_element(By.CSS_SELECTOR, ".utalk-wc-launch").send_keys("\n")
        _say(browser, "hola")
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, '.utalk-wc-msg[data-sender="customer"]')
               .get_attribute("data-status") == "received")
        yield chat, shop, widget
    finally:
        shop.close()


def _ended(browser, widget) -> None:
    """The widget's ended state: said, form disabled, socket closed, nothing saved."""
    from selenium.webdriver.common.by import By

    _until(browser, lambda: widget.get_attribute("data-ended") == "true", timeout=20)
    _until(browser, lambda: widget.get_attribute("data-connected") == "false", timeout=10)
    assert browser.find_element(By.ID, "utalk-wc-input").get_attribute("disabled") == "true"
    assert "ended" in browser.find_element(By.CSS_SELECTOR, ".utalk-wc-typing").text
    assert browser.execute_script(
        "return Object.keys(localStorage).filter(k => k.startsWith('utalk-webchat:')).length;") == 0


def test_a_blocked_visitor_s_widget_ends_at_once_in_a_real_browser(api, stack, relay_port, browser):
    """An admin blocks the visitor while the page is open: the relay tells the widget and closes its
    socket; the widget disables its form, says the chat ended and forgets the saved session."""
    with _one_message_in(api, stack, relay_port, browser) as (chat, _, widget):
        r = chat.api.post(f"/api/v1/conversations/{_conversation(browser)}/block-visitor")
        assert r.status_code == 200, r.text
        _ended(browser, widget)


def test_a_visitor_blocked_while_its_page_was_away_is_ended_at_the_reconnect_in_a_real_browser(
        api, stack, relay_port, browser):
    """Blocked while its socket was down (here the relay restarting): the token still verifies, but
    the relay refuses it `visitor_blocked` (the chat's route names the visitor), and the widget ends
    instead of retrying."""
    with _one_message_in(api, stack, relay_port, browser) as (chat, _, widget):
        stack.stop(E2E_RELAY)
        _until(browser, lambda: widget.get_attribute("data-connected") == "false")
        r = chat.api.post(f"/api/v1/conversations/{_conversation(browser)}/block-visitor")
        assert r.status_code == 200, r.text
        start_e2e_relay(stack, relay_port)
        _ended(browser, widget)


def test_a_visitor_ends_the_chat_and_a_reload_starts_a_new_one_in_a_real_browser(api, stack, relay_port, browser):
    """"End chat" signs out: the session's refresh token is revoked on the server (resuming with it is
    401), the page forgets it, and the next visit is a new visitor with a conversation of its own."""
    import json

    from selenium.webdriver.common.by import By

    with _one_message_in(api, stack, relay_port, browser) as (chat, shop, widget):
        first = _conversation(browser)
        key = browser.execute_script("return Object.keys(localStorage).find(k => k.startsWith('utalk-webchat:'));")
        refresh = json.loads(browser.execute_script("return localStorage.getItem(arguments[0]);", key))["refreshToken"]
        end = browser.find_element(By.CSS_SELECTOR, ".utalk-wc-end")
        assert end.tag_name == "button" and end.text == "End chat"
        end.send_keys("\n")                                              # keyboard reachable
        _ended(browser, widget)
        r = api.post(chat.path("sessions"), json={"refreshToken": refresh}, headers={"Origin": shop.origin})
        assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_revoked", r.text

        browser.refresh()
        _until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".utalk-wc").get_attribute("data-connected")
               == "true")
        assert _conversation(browser) != first and _texts(browser, "customer") == []
