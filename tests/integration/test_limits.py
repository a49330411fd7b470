"""Rate limits through the gateway: the login throttle, per-user, per-IP and per-endpoint limits.

Windows are fixed and aligned to the epoch, so a burst that must stay inside one window first
waits (bounded) when too little of the current one is left. Client addresses are set the way
Google's front end sets them (X-Forwarded-For); see utalk.http.client_ip.
"""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from messaging_support import INBOUND, db, inbound_form, post_signed, workspace
from tests.helpers import PASSWORD, login, new_admin

LOGIN = "/api/v1/auth/login"


def _inside_one_window(window: int, needed: float) -> None:
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.5)


def _rate_limited(r, name: str) -> None:
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "rate_limited" and err["message"], err
    assert err["details"]["limit"] == name, err
    assert int(r.headers["Retry-After"]) == err["details"]["retryAfterSeconds"] >= 1


def _wrong(api, email: str):
    return api.post(LOGIN, json={"email": email, "password": "wrong-guess"})


# -- the login throttle (issue 12, item 10) ------------------------------------------------------
def test_concurrent_wrong_passwords_verify_at_most_the_limit(api):
    admin = new_admin()
    _inside_one_window(900, 60)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: _wrong(api.from_ip("203.0.113.7"), admin["email"]), range(20)))
    codes = [r.status_code for r in answers]
    # Each 401 is one password verification: the attempt is counted before it, atomically.
    assert codes.count(401) == 5 and codes.count(429) == 15, codes
    _rate_limited(next(r for r in answers if r.status_code == 429), "login-ip-account")


def test_a_stranger_hammering_from_one_address_cannot_lock_the_owner_out(api):
    admin = new_admin()
    _inside_one_window(900, 60)
    stranger = api.from_ip("198.51.100.9")
    codes = [_wrong(stranger, admin["email"]).status_code for _ in range(12)]
    assert codes == [401] * 5 + [429] * 7, codes
    # The owner, elsewhere, logs in...
    assert login(api.from_ip("192.0.2.44"), admin["email"])["user"]["id"] == admin["id"]
    # ...while even the right password is refused from the stranger's address until the window ends.
    _rate_limited(stranger.post(LOGIN, json={"email": admin["email"], "password": PASSWORD}), "login-ip-account")


def test_guesses_from_many_addresses_stop_at_the_account_ceiling(api):
    admin = new_admin()
    _inside_one_window(900, 90)
    for i in range(4):  # 4 addresses x 5 guesses: the account's 20
        guesser = api.from_ip(f"203.0.113.{10 + i}")
        assert [_wrong(guesser, admin["email"]).status_code for _ in range(5)] == [401] * 5
    _rate_limited(api.from_ip("203.0.113.99").post(LOGIN, json={"email": admin["email"], "password": PASSWORD}),
                  "login-account")


def test_one_address_spraying_accounts_stops_at_its_limit(api):
    _inside_one_window(900, 90)
    sprayer = api.from_ip("203.0.113.77")
    codes = [_wrong(sprayer, f"nobody-{uuid.uuid4().hex[:8]}@example.com").status_code for _ in range(30)]
    assert codes == [401] * 30
    _rate_limited(_wrong(sprayer, "one-more@example.com"), "login-ip")
    assert _wrong(api.from_ip("203.0.113.78"), "one-more@example.com").status_code == 401


def test_a_right_password_gives_its_attempt_back(api):
    admin = new_admin()
    _inside_one_window(900, 60)
    client = api.from_ip("192.0.2.10")
    for _ in range(8):  # more than the 5 an address may get wrong: successes use up nothing
        login(client, admin["email"])
    assert _wrong(client, admin["email"]).status_code == 401


# -- per user, per address, per endpoint (issue 12, item 11) -------------------------------------
def test_every_authenticated_route_allows_a_user_100_requests_a_minute(api):
    admin, other = new_admin(), new_admin()
    me = api.with_token(login(api, admin["email"])["token"])
    _inside_one_window(60, 25)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: me.get("/api/v1/auth/me").status_code, range(100)))
    assert codes == [200] * 100, codes
    _rate_limited(me.get("/api/v1/users"), "user")  # another route: the same user's budget
    _rate_limited(me.from_ip("192.0.2.200").get("/api/v1/auth/me"), "user")  # any address
    assert api.with_token(login(api, other["email"])["token"]).get("/api/v1/auth/me").status_code == 200


def test_unauthenticated_routes_allow_an_address_60_requests_a_minute(api):
    _inside_one_window(60, 25)
    client = api.from_ip("203.0.113.200")
    body = {"refreshToken": "not-a-real-refresh-token"}
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.post("/api/v1/auth/refresh", json=body).status_code, range(60)))
    assert codes == [401] * 60, codes
    _rate_limited(client.post("/api/v1/auth/logout", json=body), "ip")  # one budget for the address
    # Garbage is counted too: it is refused before the body is even read.
    _rate_limited(client.post("/api/v1/auth/login", data=b"[" * 10_000, headers={"Content-Type": "application/json"}),
                  "ip")
    assert api.from_ip("203.0.113.201").post("/api/v1/auth/refresh", json=body).status_code == 401


def test_provider_webhooks_do_no_limiter_work(api):
    ws = workspace(api, bot=False)
    limiter_docs = lambda: len(list(db().collection("rateLimits").list_documents()))  # noqa: E731
    before = limiter_docs()
    forms = [inbound_form(ws.number, f"+52155{i:08d}", f"m{i}") for i in range(150)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda form: post_signed(api, INBOUND, form).status_code, forms))
    assert codes == [200] * 150  # 150 from one address in well under a minute: no per-IP limit
    assert limiter_docs() == before


def test_a_sharded_limit_admits_exactly_its_limit_under_concurrency(clean):
    from utalk import errors, ratelimit
    from utalk.limits import Limit

    limit = Limit("test-sharded", 200, 60)
    assert limit.shards == 4 and sum(limit.share(s) for s in range(4)) == 200
    key = uuid.uuid4().hex
    _inside_one_window(60, 25)

    def one(_):
        try:
            ratelimit.take((limit, key))
            return True
        except errors.RateLimited:
            return False

    with ThreadPoolExecutor(16) as pool:
        admitted = list(pool.map(one, range(260)))
    assert admitted.count(True) == 200
    counts = [d.get("count") for d in db().collection("rateLimits").stream()]
    # Every shard filled its share of 50; the refused requests each added at most one write to a full
    # shard before this instance knew it was full (with 16 in flight).
    assert len(counts) == 4 and all(50 <= c <= 50 + 16 for c in counts), counts
