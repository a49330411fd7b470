"""Two tabs refreshing at once (issue 12.9): a rotated refresh token presented again within the
grace returns the same successor, the family stays one chain; after the grace, reuse revokes it.

Through HTTP against the gateway. Time is controlled through the data, not by sleeping: a test
moves the rotated token's `usedAt` back, which is exactly what the record looks like that much
later; `rotate(now=...)` is the clock the boundary test injects.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from google.cloud.firestore import FieldFilter

from tests.helpers import login, new_admin
from utalk import clients
from utalk.repositories import refresh_tokens

REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
def admin(api):
    return new_admin()


def _record(token: str) -> dict:
    return clients.firestore().collection("refreshTokens").document(token.split(".")[0]).get().to_dict()


def _family(token: str) -> tuple[dict, list[dict]]:
    """The family document and every token of the family."""
    db = clients.firestore()
    family_id = _record(token)["familyId"]
    tokens = [d.to_dict() for d in db.collection("refreshTokens").where(
        filter=FieldFilter("familyId", "==", family_id)).stream()]
    return db.collection("tokenFamilies").document(family_id).get().to_dict(), tokens


def _age_use(token: str, seconds: float) -> None:
    """The rotated token's record as it will look `seconds` later."""
    ref = clients.firestore().collection("refreshTokens").document(token.split(".")[0])
    ref.update({"usedAt": ref.get().get("usedAt") - timedelta(seconds=seconds)})


def _refresh(api, token: str):
    return api.post(REFRESH, json={"refreshToken": token})


def test_two_concurrent_refreshes_with_one_token_both_succeed_and_leave_one_chain(api, admin):
    first = login(api, admin["email"])["refreshToken"]
    start, results = threading.Barrier(2), [None, None]

    def tab(i):
        start.wait()
        results[i] = _refresh(api.with_token(None), first)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    bodies = [r.json() for r in results]
    assert bodies[0]["refreshToken"] == bodies[1]["refreshToken"]  # the same successor, not two
    for body in bodies:  # each tab has a working access token of its own
        assert api.with_token(body["token"]).get("/api/v1/auth/me").status_code == 200
    family, tokens = _family(first)
    assert family["revokedAt"] is None
    assert len(tokens) == 2 and sum(1 for t in tokens if t["usedAt"] is None) == 1  # one live token
    # The chain goes on from the shared successor.
    r = _refresh(api, bodies[0]["refreshToken"])
    assert r.status_code == 200, r.text
    assert len(_family(first)[1]) == 3


def test_a_repeat_within_the_grace_returns_the_same_successor(api, admin):
    first = login(api, admin["email"])["refreshToken"]
    one = _refresh(api, first).json()
    _age_use(first, refresh_tokens.REUSE_GRACE_SECONDS - 5)
    again = _refresh(api, first)
    assert again.status_code == 200, again.text
    assert again.json()["refreshToken"] == one["refreshToken"]
    assert again.json()["user"]["id"] == admin["id"]
    assert len(_family(first)[1]) == 2


def test_reuse_after_the_grace_revokes_the_family(api, admin):
    first = login(api, admin["email"])["refreshToken"]
    second = _refresh(api, first).json()["refreshToken"]
    _age_use(first, refresh_tokens.REUSE_GRACE_SECONDS + 1)
    reuse = _refresh(api, first)
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "refresh_reuse"
    after = _refresh(api, second)
    assert after.status_code == 401 and after.json()["error"]["code"] == "refresh_revoked"
    assert _family(first)[0]["revokedReason"] == "reuse"


def test_the_grace_ends_at_its_boundary(api, admin):
    """The injectable clock, against the same emulator: 30 s after the rotation still the same
    successor, a moment later a reuse."""
    first = login(api, admin["email"])["refreshToken"]
    rotated = refresh_tokens.rotate(first, 3600)
    used_at = _record(first)["usedAt"]
    grace = timedelta(seconds=refresh_tokens.REUSE_GRACE_SECONDS)
    within = refresh_tokens.rotate(first, 3600, now=used_at + grace)
    assert (within.outcome, within.token) == ("ok", rotated.token)
    assert refresh_tokens.rotate(first, 3600, now=used_at + grace + timedelta(milliseconds=1)).outcome == "reuse"
    assert refresh_tokens.rotate(rotated.token, 3600).outcome == "revoked"


def test_no_grace_after_logout_or_with_a_wrong_secret(api, admin):
    first = login(api, admin["email"])["refreshToken"]
    second = _refresh(api, first).json()["refreshToken"]
    jti, secret = first.split(".")
    forged = f"{jti}.{secret[:-2]}{'AA' if secret[-2:] != 'AA' else 'BB'}"
    r = _refresh(api, forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_invalid"
    assert api.post("/api/v1/auth/logout", json={"refreshToken": second}).status_code == 204
    r = _refresh(api, first)  # the other tab, a second later: the family is gone
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_revoked"
