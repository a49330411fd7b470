"""Deprecated routes and fields: their responses announce it (X-Deprecated, Sunset six months on,
Link to the note) and the OpenAPI document marks them."""
from __future__ import annotations

import sys
from pathlib import Path

import flask
import pytest

from contract import openapi
from utalk import deprecation, http, manifest
from utalk.models.common import Input, Output

OLD = manifest.Function("old_things", "old_things:get", "POST", f"{manifest.API}/old-things", deprecated="2026-12-02",
                        deprecation_note="/docs/api-contract.md#old-things")
CURRENT = manifest.Function("new_things", "new_things:create", "POST", f"{manifest.API}/new-things")


class Thing(Output):
    id: str


class NewThing(Input):
    name: str = ""
    label: str | None = deprecation.deprecated_field("2026-11-01", "use name", default=None)


@pytest.fixture
def rows(monkeypatch, tmp_path):
    """Two routes of a manifest that has them, with their handler modules importable."""
    monkeypatch.setattr(manifest, "FUNCTIONS", manifest.FUNCTIONS + (OLD, CURRENT))
    manifest.by_name.cache_clear()
    (tmp_path / "old_things.py").write_text("from utalk import http\nfrom test_deprecation import Thing\n\n"
                                            "@http.endpoint('old_things', auth=False, response=Thing)\n"
                                            "def get(call):\n    return {'id': 't1'}\n")
    (tmp_path / "new_things.py").write_text("from utalk import http\nfrom test_deprecation import NewThing, Thing\n\n"
                                            "@http.endpoint('new_things', auth=False, body=NewThing, response=Thing)\n"
                                            "def create(call):\n    return {'id': 't2'}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import new_things
    import old_things
    yield old_things.get, new_things.create
    for name in ("old_things", "new_things"):
        sys.modules.pop(name, None)
    monkeypatch.undo()
    manifest.by_name.cache_clear()


def _post(entry, path: str, json: dict) -> flask.Response:
    app = flask.Flask(__name__)
    with app.test_request_context(path, method="POST", json=json):
        return entry(flask.request)


def test_a_deprecated_route_announces_its_sunset_six_months_on(rows):
    old, _ = rows
    resp = _post(old, "/api/v1/old-things", {})
    assert resp.status_code == 200
    assert resp.headers["X-Deprecated"] == "true"
    assert resp.headers["Sunset"] == "Thu, 03 Jun 2027 00:00:00 GMT"   # 2026-12-02 + 183 days
    assert resp.headers["Link"] == '</docs/api-contract.md#old-things>; rel="deprecation"'


def test_a_request_that_uses_a_deprecated_field_is_told_and_one_that_does_not_is_not(rows):
    _, new = rows
    used = _post(new, "/api/v1/new-things", {"label": "x"})
    assert used.status_code == 200 and used.headers["X-Deprecated"] == "true"
    assert used.headers["Sunset"] == "Mon, 03 May 2027 00:00:00 GMT"
    assert "X-Deprecated" not in _post(new, "/api/v1/new-things", {"name": "x"}).headers


def test_the_openapi_document_marks_the_route_and_the_field(rows):
    doc = openapi.build()
    op = doc["paths"]["/api/v1/old-things"]["post"]
    assert op["deprecated"] is True and op["x-sunset"] == "2027-06-03"
    assert set(op["responses"]["200"]["headers"]) == {"X-Deprecated", "Sunset", "Link"}
    label = doc["components"]["schemas"]["NewThing"]["properties"]["label"]
    assert label["deprecated"] is True and label["x-sunset"] == "2027-05-03"
    assert "deprecated" not in doc["paths"]["/api/v1/new-things"]["post"]

