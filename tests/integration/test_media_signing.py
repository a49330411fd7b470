"""Signed URLs, verified independently of the emulator (which ignores signatures): the local key
path, and the keyless production path, a function signing through IAM signBlob with the compute
credentials of a metadata server (both Google services faked, google-auth and our signer real)."""
from __future__ import annotations

import socket

import pytest
import requests
from cryptography.exceptions import InvalidSignature

from media_support import PNG, devstack_public_key, setup, start, upload, verify_signed_url


def test_the_signature_covers_method_content_type_and_length_range(api):
    ws, cid = setup(api)
    ticket = start(ws.api, cid, len(PNG), "image/png").json()
    key = devstack_public_key()
    verify_signed_url(ticket["uploadUrl"], "PUT", ticket["headers"], key)
    for method, headers in (("PUT", {**ticket["headers"], "Content-Type": "application/x-msdownload"}),
                            ("PUT", {**ticket["headers"], "x-goog-content-length-range": "1,999999999"}),
                            ("GET", ticket["headers"])):
        with pytest.raises(InvalidSignature):
            verify_signed_url(ticket["uploadUrl"], method, headers, key)
    [item] = upload(ws.api, cid, ("a.png", PNG, "image/png")).json()["items"]
    params = verify_signed_url(item["url"], "GET", {}, key)
    assert params["response-content-type"] == "image/png" and int(params["X-Goog-Expires"]) <= 15 * 60
    assert params["X-Goog-Credential"].startswith("firebase-adminsdk-local@")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def keyless_media_get(stack):
    """`media_get` as deployed: its own functions-framework app, no key file, Google's metadata
    server and IAM Credentials API at local fakes."""
    from fakes.google_iam import FakeIamCredentials, FakeMetadata
    from devstack.stack import VENV, port_open

    metadata = FakeMetadata().start()
    iam = FakeIamCredentials(metadata).start()
    port = _free_port()
    stack._spawn("media-keyless", [str(VENV / "bin/gunicorn"), "-w", "1", "--threads", "2", "-b", f"127.0.0.1:{port}",
                                   "devstack.function_app:app"],
                 env={"UTALK_FUNCTION": "media_get", "UTALK_SIGNING_KEY_FILE": "", "NO_GCE_CHECK": "false",
                      "GCE_METADATA_HOST": metadata.host, "GCE_METADATA_IP": metadata.host,
                      "UTALK_IAM_CREDENTIALS_URL": iam.base_url, "GOOGLE_APPLICATION_CREDENTIALS": ""})
    try:
        stack._wait("media-keyless", lambda: port_open(port))
        yield f"http://127.0.0.1:{port}", metadata, iam
    finally:
        stack.stop("media-keyless")
        iam.stop()
        metadata.stop()


def test_a_deployed_function_signs_through_iam_sign_blob(api, keyless_media_get):
    base, metadata, iam = keyless_media_get
    ws, cid = setup(api)
    [item] = upload(ws.api, cid, ("a.png", PNG, "image/png")).json()["items"]
    r = requests.get(f"{base}/api/v1/media/{item['id']}", headers={"Authorization": f"Bearer {ws.api.token}"},
                     timeout=30)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    params = verify_signed_url(url, "GET", {}, iam.public_key_pem)
    assert params["X-Goog-Credential"].startswith(metadata.email + "/")
    with pytest.raises(InvalidSignature):  # not the local key: the IAM fake's
        verify_signed_url(url, "GET", {}, devstack_public_key())
    [call] = iam.calls
    assert call["authorization"] == f"Bearer {metadata.token}" and metadata.token_requests >= 1
    assert call["path"] == f"/v1/projects/-/serviceAccounts/{metadata.email}:signBlob"
    assert requests.get(url, timeout=10).content == PNG

    iam.refuse = True  # the account lost roles/iam.serviceAccountTokenCreator: 503, never an unsigned URL
    r = requests.get(f"{base}/api/v1/media/{item['id']}", headers={"Authorization": f"Bearer {ws.api.token}"},
                     timeout=30)
    assert r.status_code == 503 and r.json()["error"]["code"] == "signing_unavailable"
