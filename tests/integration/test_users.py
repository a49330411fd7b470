"""Admin management of users and agents, roles, and isolation between workspaces."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import PASSWORD, login, new_admin


@pytest.fixture
def admin_api(api):
    admin = new_admin()
    return api.with_token(login(api, admin["email"])["token"]), admin


def _create(client, email, role="agent", **extra):
    return client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Ana",
                                              "role": role, **extra})


def test_create_agent_with_profile_defaults(admin_api):
    client, admin = admin_api
    r = _create(client, "ana@example.com", agent={"skills": ["Sales", "support"]})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["role"] == "agent" and user["workspaceId"] == admin["workspaceId"]
    assert user["agent"] == {"status": "offline", "maxConversations": 10, "currentConversations": 0,
                             "skills": ["sales", "support"]}
    assert client.get(f"/api/v1/users/{user['id']}").json()["email"] == "ana@example.com"


def test_duplicate_email_is_409_even_when_concurrent(admin_api):
    client, _ = admin_api
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: _create(client, "race@example.com").status_code, range(8)))
    assert codes == [201] + [409] * 7
    items = client.get("/api/v1/users", params={"role": "agent"}).json()["items"]
    assert [u["email"] for u in items] == ["race@example.com"]


def test_list_paginates_with_a_cursor(admin_api):
    client, _ = admin_api
    for i in range(5):
        assert _create(client, f"agent{i}@example.com").status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "role": "agent", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/users", params=params).json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [f"agent{i}@example.com" for i in range(5)]


def test_update_and_deactivate(admin_api, api):
    client, _ = admin_api
    agent = _create(client, "bea@example.com").json()
    r = client.patch(f"/api/v1/users/{agent['id']}", json={"name": "Bea", "agent": {"maxConversations": 3}})
    assert r.status_code == 200 and r.json()["name"] == "Bea" and r.json()["agent"]["maxConversations"] == 3
    agent_tokens = login(api, "bea@example.com")
    r = client.post(f"/api/v1/users/{agent['id']}/deactivate")
    assert r.status_code == 200 and r.json()["status"] == "inactive"
    # Deactivated: cannot log in, refresh or use /me.
    assert api.post("/api/v1/auth/login", json={"email": "bea@example.com", "password": PASSWORD}).status_code == 403
    assert api.post("/api/v1/auth/refresh", json={"refreshToken": agent_tokens["refreshToken"]}).status_code == 401
    assert api.with_token(agent_tokens["token"]).get("/api/v1/auth/me").status_code == 401


def test_deactivating_again_finishes_what_a_first_attempt_left(admin_api, api):
    """A first attempt that died after its transaction (the user inactive, their refresh tokens not
    yet revoked) is finished by the retry, which skips the transaction it no longer needs."""
    from google.cloud import firestore as fs

    from utalk import clients
    from utalk.repositories.refresh_tokens import FAMILIES
    from utalk.repositories.users import UserRepository

    client, admin = admin_api
    agent = _create(client, "dee@example.com").json()
    login(api, "dee@example.com")
    UserRepository(admin["workspaceId"]).update(agent["id"], {"status": "inactive"}, {"active": False})

    def live_families():
        query = clients.firestore().collection(FAMILIES).where(filter=fs.FieldFilter("userId", "==", agent["id"]))
        return [f for f in query.stream() if f.get("revokedAt") is None]
    assert live_families()
    r = client.post(f"/api/v1/users/{agent['id']}/deactivate")
    assert r.status_code == 200 and r.json()["status"] == "inactive", r.text
    assert live_families() == []


def test_admin_cannot_lock_themselves_out(admin_api):
    client, admin = admin_api
    assert client.post(f"/api/v1/users/{admin['id']}/deactivate").status_code == 409
    assert client.patch(f"/api/v1/users/{admin['id']}", json={"role": "agent"}).status_code == 409


def test_agents_cannot_use_admin_endpoints(admin_api, api):
    client, _ = admin_api
    _create(client, "cy@example.com")
    agent = api.with_token(login(api, "cy@example.com")["token"])
    for method, path in [("GET", "/api/v1/users"), ("POST", "/api/v1/users")]:
        r = agent.request(method, path, json={"email": "x@example.com", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"
    assert agent.get("/api/v1/auth/me").status_code == 200


def test_other_workspaces_users_are_invisible(admin_api, api):
    client, _ = admin_api
    other_admin = new_admin()
    other = api.with_token(login(api, other_admin["email"])["token"])
    theirs = _create(other, "theirs@example.com").json()
    for method, path in [("GET", f"/api/v1/users/{theirs['id']}"), ("PATCH", f"/api/v1/users/{theirs['id']}"),
                         ("POST", f"/api/v1/users/{theirs['id']}/deactivate")]:
        r = client.request(method, path, json={"name": "pwned"} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path)
    assert "theirs@example.com" not in [u["email"] for u in client.get("/api/v1/users").json()["items"]]
    assert other.get(f"/api/v1/users/{theirs['id']}").json()["name"] == "Ana"


def test_an_email_firestore_cannot_use_as_a_document_id_is_refused_not_a_500(admin_api, api):
    """Found by schemathesis: the login index is keyed by the email, and "/" names a sub-path."""
    client, _ = admin_api
    r = client.post("/api/v1/users", json={"email": "b*s7/@example.com", "password": PASSWORD})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["fields"][0]["field"] == "email"
    r = api.post("/api/v1/auth/login", json={"email": "a/b@example.com", "password": PASSWORD})
    assert r.status_code == 422, r.text
