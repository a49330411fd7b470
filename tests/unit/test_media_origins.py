"""Which media URLs Twilio's policy admits: exact host, HTTPS on the default port, path prefix."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from utalk.channels.fetch import MediaRefused, Origin, _admitted
from utalk.channels.twilio_whatsapp import MEDIA

API = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


@pytest.mark.parametrize("url", [API, "https://API.twilio.com/2010-04-01/x"])
def test_twilio_api_urls_are_admitted(url):
    assert _admitted(url, MEDIA.sources).host == "api.twilio.com"


@pytest.mark.parametrize("url", [
    "http://api.twilio.com/2010-04-01/x",                 # not HTTPS
    "https://api.twilio.com:8443/2010-04-01/x",           # another port
    "https://api.twilio.com.evil.example/x",              # a suffix is not the host
    "https://evil.example/api.twilio.com/x",
    "https://user:pw@api.twilio.com/x",                   # credentials in the URL
    "https://mms.twiliocdn.com/x",                        # the CDN only as a redirect target
    "https://169.254.169.254/computeMetadata/v1/",
    "file:///etc/passwd", "gopher://api.twilio.com/x", "https://api.twilio.com:notaport/x", "",
])
def test_anything_else_is_refused_before_any_connection(url):
    with pytest.raises(MediaRefused) as refused:
        _admitted(url, MEDIA.sources)
    assert refused.value.code == "media_host_not_allowed"


def test_redirect_targets_are_twilios_cdn_and_only_its_s3_bucket():
    hops = MEDIA.sources + MEDIA.redirects
    for url in ("https://mms.twiliocdn.com/AC1/abc?Expires=1", "https://media.twiliocdn.com/AC1/abc",
                "https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/abc"):
        _admitted(url, hops)
    for url in ("https://s3-external-1.amazonaws.com/attacker-bucket/x",
                "https://s3-external-1.amazonaws.com/media.twiliocdn.com.evil/x"):
        with pytest.raises(MediaRefused):
            _admitted(url, hops)


def test_a_local_origin_is_exact():
    local = Origin.of("http://127.0.0.1:13005")
    assert local.admits(urlsplit("http://127.0.0.1:13005/2010-04-01/x"))
    for url in ("http://127.0.0.1:13006/x", "https://127.0.0.1:13005/x", "http://localhost:13005/x"):
        assert not local.admits(urlsplit(url))
