"""Which attachment URLs Messenger's policy admits (Meta's CDN, exactly), and where its Graph calls
may go: never a local override outside local/test."""
from __future__ import annotations

import dataclasses

import pytest

from utalk.channels import credentials
from utalk.channels.fetch import MediaRefused, _admitted
from utalk.channels.messenger import MEDIA, signature_of
from utalk.config import ConfigError, settings


@pytest.mark.parametrize("url", [
    "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?_nc_cat=1&oh=abc&oe=ffff",
    "https://scontent-iad3-1.xx.fbcdn.net/v/t39/x.png", "https://video.xx.fbcdn.net/v/t42/clip.mp4",
    "https://cdn.fbsbx.com/v/t59.3654-21/audioclip-1.mp4?oh=1", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
])
def test_meta_cdn_urls_are_admitted(url):
    assert _admitted(url, MEDIA.sources)


@pytest.mark.parametrize("url", [
    "https://fbcdn.net/x",                                # the domain itself is no CDN host
    "https://scontent.xx.fbcdn.net.evil.example/x",       # a suffix is not the host
    "https://evilfbcdn.net/x", "https://fbcdn.net.evil.example/x",
    "http://scontent.xx.fbcdn.net/x",                     # not HTTPS
    "https://scontent.xx.fbcdn.net:8443/x",
    "https://apps.fbsbx.com/game/index.html",             # other fbsbx.com hosts serve apps' content
    "https://attacker.fbsbx.com/x", "https://user:pw@cdn.fbsbx.com/x",
    "https://graph.facebook.com/v25.0/me", "https://169.254.169.254/computeMetadata/v1/", "",
])
def test_anything_else_is_refused_before_any_connection(url):
    with pytest.raises(MediaRefused) as refused:
        _admitted(url, MEDIA.sources + MEDIA.redirects)
    assert refused.value.code == "media_host_not_allowed"


def test_a_graph_override_is_refused_outside_local_and_test(monkeypatch):
    production = dataclasses.replace(settings(), env="production")
    monkeypatch.setenv("MESSENGER_GRAPH_BASE_URL", "http://127.0.0.1:1")   # an environment, not our code
    with pytest.raises(ConfigError):
        credentials.graph_base_url(production)
    monkeypatch.delenv("MESSENGER_GRAPH_BASE_URL")
    assert credentials.graph_base_url(production) == "https://graph.facebook.com"


def test_the_signature_is_meta_s_format():
    # sha256= + lowercase hex HMAC-SHA256 of the raw body with the app secret.
    assert signature_of("secret", b'{"a":1}') == \
        "sha256=" + __import__("hmac").new(b"secret", b'{"a":1}', "sha256").hexdigest()
