"""Test helpers: workspaces and users made through the same code the seed uses, logins via HTTP."""
from __future__ import annotations

import uuid

PASSWORD = "correct-horse-battery"


def new_workspace(name: str = "Acme") -> tuple[str, str]:
    from devstack.seed import create_workspace

    suffix = uuid.uuid4().hex[:8]
    ws, tenant = f"ws_{suffix}", f"tenant_{suffix}"
    create_workspace(ws, tenant, name)
    return ws, tenant


def new_admin(workspace=None) -> dict:
    from devstack.seed import create_admin

    ws, tenant = workspace or new_workspace()
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    user_id = create_admin(ws, tenant, email, PASSWORD)
    return {"id": user_id, "email": email, "password": PASSWORD, "workspaceId": ws, "tenantId": tenant}


def login(api, email: str, password: str = PASSWORD) -> dict:
    r = api.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def invoker_token(function_name: str) -> str:
    """The ID token Google's infrastructure would attach when calling internal function
    `function_name` as the invoker (signed by the stack's stand-in key, devstack/oidc.py)."""
    from devstack import oidc
    from utalk.config import settings
    from utalk.internal_auth import audience

    return oidc.mint(audience(function_name), settings().invoker_service_account)


def call_internal(api, name: str, body=None, *, data: bytes | None = None, headers: dict | None = None,
                  timeout: float = 30):
    """POST to internal function `name` at its own URL as its legitimate caller would."""
    headers = {"Authorization": f"Bearer {invoker_token(name)}", **(headers or {})}
    if data is not None:
        return api.session.post(f"{api.base}/_fn/{name}", data=data, headers=headers, timeout=timeout)
    return api.session.post(f"{api.base}/_fn/{name}", json=body, headers=headers, timeout=timeout)


def every_page(client, path: str, **params) -> list[dict]:
    """The items of a cursor-paginated list, page after page until it gives no `nextCursor`."""
    items, cursor = [], None
    while True:
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["nextCursor"]
        if not cursor:
            return items
