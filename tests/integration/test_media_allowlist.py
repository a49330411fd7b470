"""Inbound media is fetched only from the provider's own hosts, over HTTPS, each redirect checked,
with a size cap; anything else is recorded on the message and never fetched.

Locally the fake Twilio's exact origin stands in for api.twilio.com (and its CDN): a signed
webhook naming any other host (here a local server that counts its hits) must not reach it.
"""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from messaging_support import INBOUND, conv_id, inbound_form, messages, post_signed, workspace

from fakes import LocalServer

CUSTOMER = "+5215512345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Recorder(LocalServer):
    """Any URL answers an image (or a redirect to `redirect`), and every request is counted with
    its Authorization header: a hit is an SSRF that happened."""

    def __init__(self, port: int, redirect: str | None = None):
        self.port, self.hits, self.auth = port, [], []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.hits.append(self.path)
                recorder.auth.append(self.headers.get("Authorization"))
                if redirect:
                    self.send_response(302)
                    self.send_header("Location", redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

        self._serve(Handler)


def _recorder(stack) -> Recorder:
    return Recorder(stack.ports.twilio_api + 50).start()


def _receive(api, ws, *urls):
    form = inbound_form(ws.number, CUSTOMER, body="mira", NumMedia=str(len(urls)),
                        **{f"MediaUrl{i}": u for i, u in enumerate(urls)},
                        **{f"MediaContentType{i}": "image/png" for i in range(len(urls))})
    r = post_signed(api, INBOUND, form)
    assert r.status_code == 200, r.text
    [msg] = messages(ws.id, conv_id(CUSTOMER, ws.number))
    return msg


def test_media_on_another_host_is_recorded_and_never_fetched(api, twilio, stack):
    ws = workspace(api, twilio=twilio, bot=False)
    recorder = _recorder(stack)
    try:
        other = f"http://127.0.0.1:{recorder.port}/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        good = twilio.add_media("ME" + "3" * 32, PNG, "image/png")
        msg = _receive(api, ws, other, "https://metadata.google.internal/computeMetadata/v1/",
                       "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",  # not HTTPS
                       good)
    finally:
        recorder.stop()
    assert recorder.hits == []
    errors = msg["metadata"]["mediaErrors"]
    assert [e["index"] for e in errors] == [0, 1, 2]
    assert {e["code"] for e in errors} == {"media_host_not_allowed"}
    assert msg["text"] == "mira" and msg["type"] == "image" and msg["mediaId"]   # the good one is stored


def test_a_redirect_to_a_disallowed_host_is_not_followed(api, twilio, stack):
    ws = workspace(api, twilio=twilio, bot=False)
    recorder = _recorder(stack)
    try:
        url = twilio.add_media("ME" + "4" * 32, b"", "image/png",
                               redirect=f"http://127.0.0.1:{recorder.port}/stolen")
        msg = _receive(api, ws, url)
    finally:
        recorder.stop()
    assert recorder.hits == [] and twilio.media_hits == 1
    [error] = msg["metadata"]["mediaErrors"]
    assert error["code"] == "media_host_not_allowed" and msg["type"] == "text" and not msg.get("mediaId")


def test_a_redirect_to_the_providers_cdn_is_followed(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    url = twilio.add_media("ME" + "5" * 32, PNG, "image/png", via_cdn=True)
    msg = _receive(api, ws, url)
    assert msg["type"] == "image" and "mediaErrors" not in msg["metadata"]
    assert twilio.media_hits == 2  # the API's redirect, then the CDN


def test_oversize_media_is_cut_off(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    big = b"\0" * (16 * 1024 * 1024 + 1)
    declared = twilio.add_media("ME" + "6" * 32, big, "video/mp4")
    undeclared = twilio.add_media("ME" + "7" * 32, big, "video/mp4", declare_length=False)
    msg = _receive(api, ws, declared, undeclared)
    assert [e["code"] for e in msg["metadata"]["mediaErrors"]] == ["media_too_large", "media_too_large"]
    assert not msg.get("mediaId")


def test_credentials_go_to_the_api_host_only_never_to_the_cdn(stack):
    """The fetcher alone, between two local servers standing in for the API host and its CDN."""
    from utalk.channels.fetch import MediaPolicy, MediaRefused, Origin, fetch

    cdn = Recorder(stack.ports.twilio_api + 51).start()
    api_host = Recorder(stack.ports.twilio_api + 52, redirect=f"http://127.0.0.1:{cdn.port}/file").start()
    loop = Recorder(stack.ports.twilio_api + 53, redirect="/again").start()
    try:
        policy = MediaPolicy(sources=(Origin.of(f"http://127.0.0.1:{api_host.port}"),
                                      Origin.of(f"http://127.0.0.1:{loop.port}")),
                             redirects=(Origin.of(f"http://127.0.0.1:{cdn.port}"),))
        data, kind = fetch(f"http://127.0.0.1:{api_host.port}/media", policy, ("AC1", "token"))
        assert data == PNG and kind == "image/png"
        assert api_host.auth[0].startswith("Basic ") and cdn.auth == [None]
        with pytest.raises(MediaRefused) as refused:
            fetch(f"http://127.0.0.1:{loop.port}/media", policy, ("AC1", "token"))
        assert refused.value.code == "media_redirect_loop" and len(loop.hits) == policy.max_redirects + 1
    finally:
        for server in (cdn, api_host, loop):
            server.stop()
