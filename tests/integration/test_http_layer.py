"""Every bad-input class through the gateway: envelope, status, no 500; routing, CORS, headers."""
import pytest

from tests.helpers import login, new_admin


@pytest.fixture
def admin_client(api):
    admin = new_admin()
    return api.with_token(login(api, admin["email"])["token"])


def _err(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code and body["message"]
    return body


def test_malformed_json_is_400(api):
    r = api.post("/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"})
    _err(r, 400, "invalid_json")
    _err(api.post("/api/v1/auth/login", json=[1, 2]), 400, "invalid_json")


def test_wrong_content_type_is_415(api):
    r = api.post("/api/v1/auth/login", data="email=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    _err(r, 415, "unsupported_media_type")


def test_validation_errors_are_422_with_fields(admin_client):
    body = _err(admin_client.post("/api/v1/users", json={"email": "not-an-email", "password": "short",
                                                          "role": "root", "extra": 1}), 422, "validation_failed")
    fields = {f["field"] for f in body["details"]["fields"]}
    assert {"email", "password", "role", "extra"} <= fields


def test_bad_query_is_400_with_fields(admin_client):
    body = _err(admin_client.get("/api/v1/users", params={"limit": "lots"}), 400, "invalid_query")
    assert body["details"]["fields"][0]["field"] == "limit"
    _err(admin_client.get("/api/v1/users", params={"cursor": "%%%"}), 400, "invalid_cursor")


def test_body_over_10mb_is_413(admin_client):
    big = b'{"email": "' + b"a" * (10 * 1024 * 1024 + 10) + b'"}'
    r = admin_client.post("/api/v1/users", data=big, headers={"Content-Type": "application/json"})
    _err(r, 413, "payload_too_large")


def test_chunked_body_over_10mb_is_413(admin_client):
    def chunks():
        for _ in range(11):
            yield b"a" * (1024 * 1024)
    r = admin_client.post("/api/v1/users", data=chunks(), headers={"Content-Type": "application/json"})
    _err(r, 413, "payload_too_large")


def test_unknown_route_is_404_and_wrong_method_405(api):
    _err(api.get("/api/v1/nope"), 404, "route_not_found")
    _err(api.get("/"), 404, "route_not_found")
    r = api.request("DELETE", "/api/v1/auth/login")
    _err(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_gateway_routes_by_method_and_path(admin_client):
    created = admin_client.post("/api/v1/users", json={"email": "r@example.com", "password": "long-enough"})
    user_id = created.json()["id"]
    # Same path, different methods, different functions.
    assert admin_client.get(f"/api/v1/users/{user_id}").json()["id"] == user_id
    assert admin_client.patch(f"/api/v1/users/{user_id}", json={"name": "R"}).json()["name"] == "R"
    assert admin_client.get(f"/api/v1/users/{user_id}/").status_code == 200  # trailing slash
    _err(admin_client.get("/api/v1/users/a%2Fb"), 404, "route_not_found")  # WSGI decodes %2F: no route
    _err(admin_client.get("/api/v1/users/__name__"), 404, "not_found")  # reserved Firestore id


def test_function_url_is_reachable_directly(api):
    """/_fn/<name> is a function's own URL (what Pub/Sub push and Cloud Tasks call)."""
    assert api.get("/_fn/health/health").status_code == 200
    _err(api.get("/_fn/no_such_function"), 404, "function_not_found")


def test_security_headers_and_request_id_on_every_response(api):
    for r in (api.get("/health"), api.get("/api/v1/nope"), api.get("/api/v1/auth/me")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
    r = api.get("/api/v1/auth/me", headers={"X-Request-Id": "req-12345678"})
    assert r.headers["X-Request-Id"] == "req-12345678"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"
    assert len(api.get("/health", headers={"X-Request-Id": "bad id!"}).headers["X-Request-Id"]) == 32


def test_cors_allows_configured_origins_only(api):
    ok = api.request("OPTIONS", "/api/v1/auth/login", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    evil = api.request("OPTIONS", "/api/v1/auth/login", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    r = api.get("/health", headers={"Origin": "http://localhost:3000"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_json_nested_past_the_parser_is_400_invalid_json(api, admin_client):
    """~2 KB of "[" used to answer 500 on every JSON route (the parser's RecursionError)."""
    for client, path in ((api, "/api/v1/auth/login"), (admin_client, "/api/v1/users")):
        for data in (b"[" * 2048, b"[" * 21 + b"]" * 21, b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}"):
            _err(client.post(path, data=data, headers={"Content-Type": "application/json"}), 400, "invalid_json")


def test_a_cursor_of_the_wrong_shape_is_400_invalid_cursor_on_every_list(api):
    from messaging_support import INBOUND, conv_id, inbound_form, post_signed, workspace

    ws = workspace(api, bot=False)
    assert post_signed(api, INBOUND, inbound_form(ws.number, "+5215512345678")).status_code == 200
    conversation = conv_id("+5215512345678", ws.number)
    lists = ["/api/v1/users", "/api/v1/conversations", f"/api/v1/conversations/{conversation}/messages"]
    # W10 is "[]"; then [1], {}, [[]] and ["a","b","c"]: the wrong shape for every list.
    for cursor in ("W10", "WzFd", "e30", "W1tdXQ", "WyJhIiwiYiIsImMiXQ"):
        for path in lists:
            _err(ws.api.get(path, params={"cursor": cursor}), 400, "invalid_cursor")
    # ["a/b"] and ["__name__"]: a string, but no document id (messages are paged by id).
    for cursor in ("WyJhL2IiXQ", "WyJfX25hbWVfXyJd"):
        _err(ws.api.get(lists[2], params={"cursor": cursor}), 400, "invalid_cursor")


def test_flasks_own_errors_come_in_the_envelope_too(admin_client):
    """A newline in a path is refused by Flask's router before any function code runs."""
    _err(admin_client.get("/api/v1/users/a%0Ab"), 404, "route_not_found")
    _err(admin_client.get("/_fn/users_get/favicon.ico"), 404, "route_not_found")


def test_logs_are_structured_json_with_request_id(api, stack):
    import json
    api.get("/health", headers={"X-Request-Id": "trace-me-123456"})
    log = (stack.state_dir / "gateway.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if "trace-me-123456" in line and line.startswith("{")]
    assert lines and lines[-1]["severity"] == "INFO" and lines[-1]["requestId"] == "trace-me-123456"


def test_a_contended_transaction_is_409_not_500(admin_client):
    """Concurrent changes to one user run transactions on one document (the access document); the
    emulator aborts them under contention and the client library gives up after 5 attempts."""
    from concurrent.futures import ThreadPoolExecutor

    user_id = admin_client.post("/api/v1/users", json={"email": "busy@example.com", "password": "long-enough",
                                                       "role": "agent"}).json()["id"]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: admin_client.patch(f"/api/v1/users/{user_id}", json={"status": "active"}),
                                range(36)))
    assert {r.status_code for r in answers} <= {200, 409}, [(r.status_code, r.text[:100]) for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "concurrent_update" and r.headers["Retry-After"] == "1"
