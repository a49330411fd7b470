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
