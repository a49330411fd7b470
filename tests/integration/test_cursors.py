"""Every paginated list decodes its cursor against its own shape: a cursor that is not one of its own
(garbage, another list's, a hand-edited one) is 400 `invalid_cursor`, never a 500 or a wrong page."""
from __future__ import annotations

import base64
import json

import pytest

from messaging_support import workspace

LISTS = ["/api/v1/users", "/api/v1/conversations", "/api/v1/escalations", "/api/v1/agents",
         "/api/v1/conversations?customer=ana", "/api/v1/conversations?customer=%2B52155"]


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD = ["!!", "bm90IGpzb24", _cursor({"a": 1}), _cursor([]), _cursor([5]), _cursor([None, None]),
       _cursor(["2026-01-01T00:00:00+00:00"]), _cursor(["not a time", "conv_x"]), _cursor([{"x": 1}, "id"]),
       _cursor(["esc", "2026-01-01T00:00:00+00:00", 7]), _cursor(["2026-01-01T00:00:00+00:00", "a/b"])]
TOO_LONG = _cursor(["x" * 600])   # past the query's max length: invalid_query before any decoding


@pytest.fixture
def admin(api):
    return workspace(api, bot=False).api


@pytest.mark.parametrize("path", LISTS)
def test_bad_cursors_are_400(admin, path):
    for cursor in BAD:
        sep = "&" if "?" in path else "?"
        r = admin.get(f"{path}{sep}cursor={cursor}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", \
            (path, cursor, r.status_code, r.text[:200])
    assert admin.get(f"{path}{sep}cursor={TOO_LONG}").status_code == 400


def test_a_cursor_of_one_list_is_refused_by_another(admin):
    for path in ("/api/v1/users", "/api/v1/agents"):
        assert admin.post("/api/v1/users", json={"email": f"a{len(path)}@example.com", "password": "long-enough-1",
                                                 "role": "agent"}).status_code == 201
    cursors = {}
    for path in ("/api/v1/users", "/api/v1/agents"):
        cursors[path] = admin.get(path, params={"limit": 1}).json()["nextCursor"]
        assert cursors[path]
    assert admin.get("/api/v1/agents", params={"cursor": cursors["/api/v1/users"]}).status_code == 400
    assert admin.get("/api/v1/users", params={"cursor": cursors["/api/v1/agents"]}).status_code == 400
    assert admin.get("/api/v1/escalations", params={"cursor": cursors["/api/v1/agents"]}).status_code == 400
